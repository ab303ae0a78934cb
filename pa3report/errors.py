"""The one exception type that reaches the user as a message instead of a traceback."""

from __future__ import annotations

import difflib
from typing import Iterable

EXIT_USER_ERROR = 2


class UserError(Exception):
    """A mistake the user can fix: bad config, missing data, bad arguments.

    The message is a single paragraph saying what went wrong, where, and how to fix it.
    """

    exit_code = EXIT_USER_ERROR


def closest(word: str, choices: Iterable[str], n: int = 3) -> str:
    """A ' (did you mean ...?)' hint, or '' when nothing is close."""
    matches = difflib.get_close_matches(word, list(choices), n=n, cutoff=0.5)
    if not matches:
        return ""
    return " (did you mean " + " or ".join(repr(m) for m in matches) + "?)"
