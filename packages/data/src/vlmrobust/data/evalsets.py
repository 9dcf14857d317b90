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

The compositional benchmarks (What'sUp, COCO/GQA-spatial, ARO, hard positives, MMVP, MMVP-VLM, retrieval)
have no class space (``class_names == ()``); ``benchmark`` names the scoring rule of
``vlmrobust.eval.metrics.compositional`` their cells follow, and their items
(``vlmrobust.data.choice``) carry ``index``, ``label`` (``== answer``), ``answer`` and ``meta`` (a dict of
the per-sample fields those rules group by: object pair, relation, MMVP pair, pattern ...):

* ``captions`` items: one ``image`` and ``texts``, the K caption options in the official order (``answer``
  is the correct one's position: 0 for What'sUp, Order and MMVP's first option, 1 for ARO VG-R/VG-A);
  MMVP adds ``question`` (the options are then answers to it);
* ``images`` items (MMVP-VLM): ``images``, the K candidate images, and one ``text``; ``answer`` is the
  matching image's position;
* ``retrieval`` items: one ``image`` with its ``captions`` and their ``caption_ids`` (positions in the
  dataset's ``captions``, the list every image is ranked against; ``caption_image`` maps each back).

DataModules that serve robustness evals expose ``eval_sets: list[EvalSetInfo]`` in the same order as
``val_dataloader()`` returns its loaders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: How a set is asked: classification over ``class_names``, K-way multiple-choice questions over classes,
#: a choice among K captions of one image, a choice among K images for one text, or image-text retrieval.
Task = Literal["classification", "mcq", "captions", "images", "retrieval"]
TASKS: tuple[Task, ...] = ("classification", "mcq", "captions", "images", "retrieval")
#: Tasks whose options are texts or images rather than classes (``benchmark`` required).
FREE_TASKS: tuple[Task, ...] = ("captions", "images", "retrieval")


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
        benchmark: scoring rule of a ``captions`` / ``images`` / ``retrieval`` set
            (``vlmrobust.eval.metrics.compositional.BENCHMARKS``: ``whatsup``, ``spatial``, ``aro-relation``
            ...); ``None`` for class sets.
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
    benchmark: str | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"{self.name}: unknown task {self.task!r}; valid: {', '.join(TASKS)}")
        if self.task in ("mcq", "captions", "images") and (self.num_options is None or self.num_options < 2):
            raise ValueError(f"{self.name}: a {self.task} set needs num_options >= 2, got {self.num_options}")
        if (self.task in FREE_TASKS) != (self.benchmark is not None):
            raise ValueError(
                f"{self.name}: a benchmark (scoring rule) is given exactly for {'/'.join(FREE_TASKS)} sets; "
                f"got task {self.task!r} with benchmark {self.benchmark!r}"
            )
        if self.task != "classification" and self.multi_label:
            raise ValueError(
                f"{self.name}: a {self.task} set has one correct answer; multi_label must be False"
            )
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
