"""Subcommands of ``vlmrobust`` provided by vlmrobust-eval, and helpers they share.

Each command module exposes ``main(argv: list[str] | None) -> int`` (registered under the
``vlmrobust.commands`` entry-point group) built with :func:`vlmrobust.core.errors.cli_main`: bad input
ends in a one-line ``vlmrobust <command>: error: …`` on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

from vlmrobust.core.atomic import temp_path
from vlmrobust.core.errors import CLIError


def check_bootstrap_args(n_boot: int, ci_level: float) -> None:
    """Refuse a negative ``--n-boot`` or a ``--ci-level`` outside (0, 1) with a one-line ``CLIError``."""
    if n_boot < 0:
        raise CLIError("--n-boot must be >= 0")
    if not 0.0 < ci_level < 1.0:
        raise CLIError(f"--ci-level must be in (0, 1), got {ci_level}")


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
        tmp = temp_path(final)
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
