"""A joiner's first sign-in: a Temporary Access Pass (Entra) or an activation link / temporary
password (Okta), delivered to the joiner's manager or a named person through a one-time link
that expires; the secret is kept encrypted until it is viewed once, then wiped."""
