"""The portal as a SCIM 2.0 service provider (RFC 7643/7644): an identity provider or an HR
system creates, changes and ends people of one tenant over /scim/v2/<tenant>/.

tokens.py issues and checks the tenants' bearer tokens, rules.py picks a joiner's role
templates, mapping.py translates a SCIM user into the person's fields, resources.py shapes
what the endpoint answers, service.py turns requests into the same service calls the forms
make, endpoint.py is the HTTP side, views.py the MSP admins' pages (tokens and rules).
"""
