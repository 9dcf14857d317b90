"""Optional dependencies: import them lazily, fail with the pip command of the extra that provides them."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingDependencyError(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def install_hint(distribution: str, extra: str) -> str:
    """The pip command installing ``distribution`` with ``extra``: ``pip install 'vlmrobust-data[parquet]'``."""
    return f"pip install '{distribution}[{extra}]'"


def require(module: str, extra: str, distribution: str, purpose: str | None = None) -> ModuleType:
    """Import ``module``, or raise :class:`MissingDependencyError` naming ``distribution[extra]``.

    Args:
        module: import name, e.g. ``"pyarrow.parquet"``.
        extra: the optional extra of ``distribution`` that installs it, e.g. ``"parquet"``.
        distribution: the vlmrobust distribution declaring the extra, e.g. ``"vlmrobust-data"``.
        purpose: what it is needed for, e.g. ``"Parquet files"`` (shown in the message).

    Returns:
        The imported module.

    Raises:
        MissingDependencyError: ``module`` (or a module it imports) cannot be imported, e.g.
            ``pyarrow is needed for Parquet files: pip install 'vlmrobust-data[parquet]'``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        top = module.partition(".")[0]
        need = f"{top} is needed" + (f" for {purpose}" if purpose else "")
        raise MissingDependencyError(
            f"{need}: {install_hint(distribution, extra)} (import failed: {err})"
        ) from err
