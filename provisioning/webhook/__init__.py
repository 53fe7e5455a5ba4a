"""The signed HR webhook: hire, change and terminate events from a tenant's HR system.

signing.py checks who sent a request, schema.py what it says, service.py turns an event into
the same service calls the forms make, receive.py runs one request through all of it and
records it, secret.py issues and rotates the tenant's shared secret.
"""
