"""Keep library noise a user cannot act on off the console and in the run's log file.

``quiet_console(log_file)`` captures Python warnings into logging and filters the console handlers of
``py.warnings`` and ``lightning.pytorch`` by ``NOISE`` (deprecations inside Lightning/jsonargparse, Lightning
tips, W&B's anonymous setting, per-key ``sync_dist`` advice where the ``RobustnessCallback`` already gathers
exactly, DataLoader worker hints on tiny CPU runs). Every record, noise included, still reaches
``log_file`` when one is given. Other warnings keep reaching the console.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

#: Messages that are noise on the console (regular expressions searched in the message).
NOISE: tuple[str, ...] = (
    r"LightningCLI's args parameter is intended to run from within Python",
    r"LeafSpec",  # torch _pytree deprecation inside Lightning
    r"was deprecated in v4\.\d+\.\d+ and will be removed",  # jsonargparse deprecations inside LightningCLI
    r"JSONARGPARSE_DEPRECATION_WARNINGS",
    r"💡 Tip:",  # Lightning's litlogger / litmodels tips
    r"anonymous setting",
    r"sync_dist=True",
    r"does not have many workers",
    r"smaller than the logging interval",
    r"GPU available: |TPU available: |HPU available: |LOCAL_RANK: \d+ - CUDA_VISIBLE_DEVICES",
)
_NOISE = re.compile("|".join(NOISE))
_LOGGERS = ("py.warnings", "lightning.pytorch", "lightning.fabric")
_files: set[Path] = set()


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _NOISE.search(record.getMessage())


def quiet_console(log_file: str | Path | None = None) -> None:
    """Filter ``NOISE`` from the console and write every library record to ``log_file`` (idempotent).

    Args:
        log_file: file receiving warnings and Lightning's log records (parent created); ``None``: console
            filtering only.
    """
    logging.captureWarnings(True)
    warnings_logger = logging.getLogger("py.warnings")
    if not any(getattr(h, "_vlmrobust_console", False) for h in warnings_logger.handlers):
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter("%(message)s"))
        console._vlmrobust_console = True  # type: ignore[attr-defined]
        warnings_logger.addHandler(console)
        warnings_logger.propagate = False
    for name in _LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if not isinstance(handler, logging.FileHandler) and not any(
                isinstance(f, _DropNoise) for f in handler.filters
            ):
                handler.addFilter(_DropNoise())
    if log_file is None:
        return
    path = Path(log_file).resolve()
    if path in _files:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    for name in _LOGGERS:
        logging.getLogger(name).addHandler(handler)
    _files.add(path)
