"""Access requests and the client admin's part of the portal.

`services` files, decides, extends and ends access requests (time-bound grants are jobs of
the engine); `action_requests` holds a client admin's requests to act (onboard or offboard
someone); `notifications` the e-mails about requests; `queries` the read-only look-ups of the
pages; `forms` and the views: `views` (one request and its decision), `views_requests` (the
list, filing, cancel, revoke, extend), `views_resources` (requestable resources) and
`views_portal` (the client admin's home, requests to act, e-mail settings); `urls` their routes.
The models stay in provisioning/models_access.py: the engine and the services read them.
"""
