"""One exception type for mistakes a user can fix.

The command line prints a `UserError` as one line (no traceback) and exits with status 2;
anything else is a bug and keeps its traceback.
"""


class UserError(Exception):
    """Bad input from the user: the message names the problem and what to do."""
