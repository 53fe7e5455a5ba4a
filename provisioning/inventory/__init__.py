"""What each directory connection holds: every account, managed or not, kept current by delta
reads (issue 14). Its own app (label `inventory`) so that its models live with it."""
