"""Joiners, movers and leavers: onboarding, changes, offboarding, restores and their schedule.

`services` holds the actions (one transaction each: the change, its audit event, the job
enqueued on commit), `queries` the read-only look-ups of the pages, `forms` and `views` the
pages, `urls` their routes (included by provisioning/urls.py).
"""
