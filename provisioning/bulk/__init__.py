"""Bulk onboarding and offboarding from a CSV file.

`parse` turns an uploaded file into rows (or one clear message about why it cannot),
`validate` checks every row against the tenant, its portal people and its directories,
`service` stores the validated batch and, once a technician confirms it, starts its jobs.
The columns and limits are documented in docs/bulk-import.md.
"""
