"""Metadata shared by every labelled evaluation set (procedural world, ImageNet and its shifts).

Every labelled eval dataset yields dicts with ``image`` (tensor after the image transform), ``label`` (int
index into the set's ``class_names``) and ``index`` (int position in the dataset, used to de-duplicate DDP
padding), and exposes ``sample_id(i) -> str``. DataModules that serve robustness evals expose
``eval_sets: list[EvalSetInfo]`` in the same order as ``val_dataloader()`` returns its loaders.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvalSetInfo:
    """Describes one labelled evaluation set.

    Attributes:
        name: set name, e.g. ``"world/id"``, ``"world/sketch"``, ``"imagenet-r"``.
        class_names: class names in label order (``label`` indexes into this tuple).
        templates: zero-shot prompt templates, each with ``"{}"`` for the class name.
        id_set: name of the ID set this shift is paired with; ``None`` for an ID set itself.
        num_samples: number of samples in the set.
    """

    name: str
    class_names: tuple[str, ...]
    templates: tuple[str, ...]
    id_set: str | None
    num_samples: int
