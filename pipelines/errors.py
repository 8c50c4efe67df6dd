"""The one exception type for a user's mistake.

`InputError` says "the input is wrong, and here is how to fix it": a bad photo, an empty message, an unknown
expression. Front ends (the studio, the CLI) show its message as it is. Any other exception is a bug and must
surface with its traceback, so compute code raises `InputError`, never a bare `ValueError`, for what a user
can fix. It subclasses `ValueError` so callers that catch bad values keep working.
"""


class InputError(ValueError):
    """A mistake in what the user gave us; the message says what is wrong and how to fix it."""
