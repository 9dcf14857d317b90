"""Subcommands of ``vlmrobust`` provided by vlmrobust-eval, and helpers they share.

Each command module exposes ``main(argv: list[str] | None) -> int`` (registered under the
``vlmrobust.commands`` entry-point group). Bad input ends in :class:`CommandError`: a one-line
message on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path


class CommandError(Exception):
    """A user-facing error of a subcommand (bad file, column, option)."""


def run_guarded(prog: str, body: Callable[[], int], expected: tuple[type[BaseException], ...] = ()) -> int:
    """Run ``body``; turn :class:`CommandError` (and ``expected`` errors) into ``prog: error: …`` and 2."""
    try:
        return body()
    except (CommandError, *expected) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2


class StagedOutputs:
    """Write a command's output files as temporaries, then move them all into place at once.

    Nothing replaces an existing output until every file has been written, so a failure part-way
    leaves the previous outputs untouched (each move is an atomic ``os.replace``).

    Args:
        out_dir: directory of the outputs (created if missing).
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self._staged: dict[Path, Path] = {}

    def __enter__(self) -> StagedOutputs:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        return self

    def path(self, name: str) -> Path:
        """A temporary file in ``out_dir`` that becomes ``out_dir/name`` on success."""
        final = self.out_dir / name
        tmp = final.with_name(f".{final.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{final.suffix}")
        self._staged[final] = tmp
        return tmp

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            for final, tmp in self._staged.items():
                os.replace(tmp, final)
        else:
            for tmp in self._staged.values():
                tmp.unlink(missing_ok=True)

    @property
    def files(self) -> list[Path]:
        """Final paths of the staged files."""
        return list(self._staged)


def parse_args(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> tuple[argparse.Namespace | None, int | None]:
    """``parser.parse_args`` returning ``(args, None)``, or ``(None, exit_code)`` where argparse exits."""
    try:
        return parser.parse_args(argv), None
    except SystemExit as exit_:
        code = exit_.code
        return None, (code if isinstance(code, int) else (0 if code is None else 2))
