"""What an evaluation set is: its task, label space and pairing, shared by every reader and DataModule.

The protocol travels with the data: ``EvalSetInfo.task`` says how a set is asked (plain classification,
single- or multi-label, or K-way multiple-choice questions), and an evaluation protocol refuses a set whose
task it cannot run. Every labelled eval dataset yields dicts with ``image`` (after the image transform),
``label`` (int index into ``class_names``) and ``index`` (int position in the dataset, used to de-duplicate
DDP padding), and exposes ``sample_id(i) -> str``:

* ``classification`` items may add ``labels``, a ``(num_classes,)`` bool multi-hot tensor of every correct
  class (clean / ReaL labels; ``multi_label=True``): a prediction is correct iff it is in that set;
* ``mcq`` items add ``options``, a ``(K,)`` long tensor of the class indices shown in order, and
  ``answer``, the position of the correct one (``label == options[answer]``).

DataModules that serve robustness evals expose ``eval_sets: list[EvalSetInfo]`` in the same order as
``val_dataloader()`` returns its loaders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: How a set is asked: plain classification over ``class_names``, or K-way multiple-choice questions.
Task = Literal["classification", "mcq"]
TASKS: tuple[Task, ...] = ("classification", "mcq")


@dataclass(frozen=True)
class EvalSetInfo:
    """Describes one labelled evaluation set.

    Attributes:
        name: set name, e.g. ``"world/id"``, ``"world/sketch"``, ``"imagenet-r"``.
        class_names: class names in label order (``label`` indexes into this tuple).
        templates: zero-shot prompt templates, each with ``"{}"`` for the class name.
        id_set: name of the ID set this shift is paired with; ``None`` for an ID set itself.
        num_samples: number of samples (images, or questions for ``mcq``) in the set.
        task: ``classification`` or ``mcq`` (see the module docstring for the batch keys of each).
        multi_label: classification items carry ``labels`` (every correct class); scoring uses them.
        num_options: K of an ``mcq`` set (``None`` otherwise).
        head_names: names of the classifier columns when they differ from ``class_names``: ObjectNet and
            val-on-ObjectNet-classes are scored over the 125 IN-1k classes mapped to ObjectNet's 113.
        head_to_class: the class index (into ``class_names``) of every ``head_names`` column.
    """

    name: str
    class_names: tuple[str, ...]
    templates: tuple[str, ...]
    id_set: str | None
    num_samples: int
    task: Task = "classification"
    multi_label: bool = False
    num_options: int | None = None
    head_names: tuple[str, ...] | None = None
    head_to_class: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"{self.name}: unknown task {self.task!r}; valid: {', '.join(TASKS)}")
        if self.task == "mcq" and (self.num_options is None or self.num_options < 2):
            raise ValueError(f"{self.name}: an mcq set needs num_options >= 2, got {self.num_options}")
        if self.task == "mcq" and self.multi_label:
            raise ValueError(f"{self.name}: an mcq set has one correct option; multi_label must be False")
        if (self.head_names is None) != (self.head_to_class is None):
            raise ValueError(f"{self.name}: head_names and head_to_class go together")
        if self.head_names is not None:
            if len(self.head_names) != len(self.head_to_class):
                raise ValueError(
                    f"{self.name}: {len(self.head_names)} head_names but {len(self.head_to_class)} head_to_class"
                )
            bad = [k for k in self.head_to_class if not 0 <= k < len(self.class_names)]
            if bad:
                raise ValueError(f"{self.name}: head_to_class has indices outside the classes: {bad[:5]}")

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the classifier's columns: ``head_names`` where set, else ``class_names``."""
        return self.head_names if self.head_names is not None else self.class_names
