"""Did-you-mean messages for registries and config keys."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, choices: Iterable[str], what: str = "choices") -> str:
    """Return a sentence naming the closest matches to ``name`` and all valid ``choices``.

    Args:
        name: the unknown name the user gave.
        choices: every valid name.
        what: how to call the valid names in the message (e.g. ``"models"``).
    """
    choices = sorted(choices)
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    hint = f"Did you mean {', '.join(repr(c) for c in close)}? " if close else ""
    return f"{hint}Valid {what}: {', '.join(choices) if choices else '(none)'}."
