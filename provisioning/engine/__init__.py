"""The engine: desired state -> plan (ordered steps) -> idempotent execution.

It knows no request or template; it reaches directories only through connectors.
"""
