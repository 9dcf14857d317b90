"""Run identity: a stored run is its name plus a hash of the resolved config that produced it.

The run key of every cell and prediction is ``<name>-<hash>``, where ``hash`` is the first 10 hex digits
of the SHA-256 of the canonical JSON of the run's *identity config*: the resolved config (model, data,
trainer settings, seeds) without the keys that say where results go or how progress is shown
(``IGNORED_PATHS``, ``IGNORED_NAMES``). Changing any other value (a learning rate, a world seed, the
number of steps, the model spec) gives a new key, so a finished run is reused only when its config is
identical, and the results store keeps the identity config of every key (``ResultsStore.put_run``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

#: Dotted config paths left out of the identity: output locations, loggers and console settings.
IGNORED_PATHS: frozenset[str] = frozenset(
    {
        "config",
        "trainer.logger",
        "trainer.default_root_dir",
        "trainer.enable_progress_bar",
        "trainer.enable_model_summary",
        "trainer.log_every_n_steps",
    }
)
#: Leaf names left out wherever they occur (result and cache locations, run names, loader workers).
IGNORED_NAMES: frozenset[str] = frozenset(
    {"results_db", "run_name", "out", "save_dir", "dirpath", "head_cache", "num_workers", "progress"}
)
HASH_LENGTH = 10


def sweep_trial() -> dict[str, Any]:
    """``{"wandb_sweep": {"sweep": …, "trial": …}}`` inside a W&B sweep agent's trial (it sets
    ``WANDB_SWEEP_ID`` and ``WANDB_RUN_ID``), else ``{}``: added to a run's identity, two trials never share
    a key even when the sweep gives them the same values."""
    sweep, trial = os.environ.get("WANDB_SWEEP_ID"), os.environ.get("WANDB_RUN_ID")
    return {"wandb_sweep": {"sweep": sweep, "trial": trial}} if sweep and trial else {}


def _canonical(value: Any) -> Any:
    """JSON-able form: mappings with string keys, sequences as lists, paths as strings."""
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_canonical(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if isinstance(value, PurePath | os.PathLike):
        return os.fspath(value)
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    text = repr(value)  # an object's default repr holds its address, which no rerun reproduces
    return f"{type(value).__module__}.{type(value).__qualname__}" if " at 0x" in text else text


def identity_config(config: Mapping[str, Any], ignore: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The part of ``config`` that identifies a run: canonical JSON types, ignored keys dropped.

    Args:
        config: the resolved config (nested mappings).
        ignore: further dotted paths to leave out, on top of ``IGNORED_PATHS``.
    """
    paths = IGNORED_PATHS | ignore

    def keep(node: Any, prefix: str) -> Any:
        if isinstance(node, list):  # e.g. trainer.callbacks: filtered item by item, under the list's path
            return [keep(item, prefix) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for k, v in node.items():
            path = f"{prefix}{k}"
            if path in paths or k in IGNORED_NAMES:
                continue
            out[k] = keep(v, f"{path}.")
        return out

    return keep(_canonical(config), "")


def config_hash(config: Mapping[str, Any]) -> str:
    """The first ``HASH_LENGTH`` hex digits of the SHA-256 of the identity config's canonical JSON."""
    blob = json.dumps(identity_config(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def run_key(name: str, config: Mapping[str, Any]) -> str:
    """``<name>-<config hash>``: the key a run's cells and predictions are stored under."""
    if not name:
        raise ValueError("a run needs a non-empty name")
    return f"{name}-{config_hash(config)}"


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as ``{"a.b.c": leaf}`` (lists are leaves)."""
    out: dict[str, Any] = {}
    for k, v in config.items():
        path = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, f"{path}."))
        else:
            out[path] = v
    return out


def config_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """The dotted keys whose identity values differ, as ``(key, old, new)`` (``None`` where a key is absent)."""
    a, b = flatten(identity_config(old)), flatten(identity_config(new))
    return [(k, a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]


def describe_diff(diff: list[tuple[str, Any, Any]], limit: int = 8) -> str:
    """``key (old -> new), …`` for messages, at most ``limit`` keys."""
    shown = ", ".join(f"{k} ({json.dumps(a)} -> {json.dumps(b)})" for k, a, b in diff[:limit])
    return shown + (f" and {len(diff) - limit} more" if len(diff) > limit else "")
