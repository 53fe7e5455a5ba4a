"""Directory connectors: one small interface, one class per directory kind, one HTTP seam each.

Errors are classified here and nowhere else (see errors.py); nothing above parses HTTP.
"""
