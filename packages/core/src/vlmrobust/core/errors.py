"""One error style for every ``vlmrobust`` subcommand: ``vlmrobust <command>: error: <message>``, exit 2.

A subcommand body raises :class:`CLIError` for bad input it detects itself; the errors that readers
raise for bad files (``OSError`` such as ``FileNotFoundError``, ``ValueError`` such as
``DatasetFormatError``, ``KeyError`` with a message, a missing optional dependency) are reported the
same way by :func:`cli_main`, so a user sees one line naming the file or key, never a traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence

from vlmrobust.core.optional import MissingDependencyError

EXIT_USAGE = 2  # exit code of every reported error (as argparse uses for bad arguments)


class CLIError(Exception):
    """A user-facing error of a subcommand (bad file, column, option); its message is printed as is."""


# Errors of bad input that cli_main reports as one line (KeyError only when it carries a message).
REPORTED: tuple[type[BaseException], ...] = (CLIError, MissingDependencyError, OSError, ValueError, KeyError)

Body = Callable[[list[str]], int | None]


def error_message(err: BaseException) -> str | None:
    """The one-line text of a reported error, or ``None`` when ``err`` should keep its traceback.

    ``OSError`` with a file name becomes ``<file>: <reason>``; ``KeyError`` counts as a message only
    when its argument is a sentence (a bare ``KeyError('x')`` is a bug, not bad input).
    """
    if isinstance(err, OSError) and err.filename is not None and err.strerror:
        return f"{err.filename}: {err.strerror}"
    if isinstance(err, KeyError):
        text = err.args[0] if len(err.args) == 1 and isinstance(err.args[0], str) else ""
        return text if " " in text.strip() else None
    return str(err) or type(err).__name__


def report(command: str, message: str) -> int:
    """Print ``vlmrobust <command>: error: <message>`` on stderr and return the exit code 2."""
    print(f"vlmrobust {command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _exit_code(exit_: SystemExit, command: str) -> int:
    code = exit_.code
    if code is None or isinstance(code, int):
        return code or 0
    return report(command, str(code))  # SystemExit("message"): the same style as other errors


def cli_main(
    command: str, expected: tuple[type[BaseException], ...] = ()
) -> Callable[[Body], Callable[[Sequence[str] | None], int]]:
    """Decorate a subcommand body ``body(argv) -> int`` into its ``main(argv=None) -> int``.

    The returned ``main`` takes ``sys.argv[1:]`` when ``argv`` is ``None``, returns the body's exit
    code (``None`` counts as 0), turns ``SystemExit`` (argparse's ``--help`` and usage errors) into its
    exit code, and prints every :data:`REPORTED` error (plus ``expected``) as one line, returning 2.

    Args:
        command: the subcommand name shown in messages, e.g. ``"build-mcq"``.
        expected: further exception types of bad input to report instead of raising.

    Example::

        @cli_main("line")
        def main(argv: list[str]) -> int:
            ...
    """

    def decorate(body: Body) -> Callable[[Sequence[str] | None], int]:
        @functools.wraps(body)
        def main(argv: Sequence[str] | None = None) -> int:
            args = list(sys.argv[1:] if argv is None else argv)
            try:
                return int(body(args) or 0)
            except SystemExit as exit_:
                return _exit_code(exit_, command)
            except (*REPORTED, *expected) as err:
                message = error_message(err)
                if message is None:
                    raise
                return report(command, message)

        return main

    return decorate
