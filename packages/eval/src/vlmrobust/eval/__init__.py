"""vlmrobust.eval: metrics, protocols, the evaluation runner, RobustnessCallback, plots, eval/line/theory.

Public classes are resolved lazily so that torch-free commands (``vlmrobust line``) stay light.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "RobustnessCallback": "vlmrobust.eval.robustness_callback",
    "EvalRunner": "vlmrobust.eval.runner",
    "EvalData": "vlmrobust.eval.runner",
    "ModelEntry": "vlmrobust.eval.models",
    "AutoWandbLogger": "vlmrobust.eval.tracking",
    "build_zero_shot_head": "vlmrobust.eval.heads",
    "zero_shot_logits": "vlmrobust.eval.heads",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'vlmrobust.eval' has no attribute {name!r}")
