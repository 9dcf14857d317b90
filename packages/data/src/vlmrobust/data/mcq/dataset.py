"""Torch dataset over MCQ questions: the eval batch of the image's set plus the options and answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch
from torch.utils.data import Dataset

from vlmrobust.data.mcq.builder import Question


class LabelledEvalDataset(Protocol):
    """What MCQ questions need of their images' dataset (``ImageNetEvalDataset``, a world ``LabelledDataset``).

    Items are dicts with ``image`` (after ``transform``), ``label`` and ``index``; ``sample_id(i)`` is the
    stable id that questions refer to.
    """

    transform: Callable[[Any], Any] | None

    def __len__(self) -> int: ...

    def __getitem__(self, i: int) -> dict[str, Any]: ...

    def sample_id(self, i: int) -> str: ...


class MCQDataset(Dataset[dict[str, Any]]):
    """Questions over a labelled eval dataset, yielding CONVENTIONS.md eval batches plus options.

    Items are ``{"image", "label", "index", "options", "answer"}``: ``label`` is the correct class (an
    index into the set's ``class_names``, as for plain classification), ``options`` a ``(K,)`` long
    tensor of the class indices shown, in order, and ``answer`` the position of the correct one.
    ``index`` is the question's position; ``sample_id(i)`` its ``question_id`` (stable across runs).
    ``image`` is what ``base`` yields: a PIL image while ``transform`` is ``None`` (ImageNet and world
    sets), the transform's output otherwise.

    Args:
        base: the eval dataset the questions' images come from (any dataset with ``sample_id(i)`` and
            ``__getitem__``, e.g. ``ImageNetEvalDataset`` or a world ``LabelledDataset``; its transform is
            used).
        questions: questions on that set's images (every ``sample_id`` must be in ``base``).

    Raises:
        KeyError: a question asks about an image that is not in ``base`` (the message names one).
    """

    def __init__(self, base: LabelledEvalDataset, questions: Sequence[Question]) -> None:
        rows = {base.sample_id(i): i for i in range(len(base))}
        missing = [q for q in questions if q.sample_id not in rows]
        if missing:
            q = missing[0]
            raise KeyError(
                f"{len(missing)} question(s) ask about images not in the {q.eval_set!r} dataset, e.g. "
                f"{q.question_id!r} (image {q.sample_id!r})"
            )
        self.base = base
        self.questions = tuple(questions)
        self._rows = [rows[q.sample_id] for q in self.questions]

    @property
    def transform(self) -> Callable[[Any], Any] | None:
        """The image transform (shared with ``base``)."""
        return self.base.transform

    @transform.setter
    def transform(self, value: Callable[[Any], Any] | None) -> None:
        self.base.transform = value

    def __len__(self) -> int:
        return len(self.questions)

    def sample_id(self, i: int) -> str:
        """Stable id of item ``i``: its ``question_id``."""
        return self.questions[i].question_id

    def __getitem__(self, i: int) -> dict[str, Any]:
        q = self.questions[i]
        item = self.base[self._rows[i]]
        item.pop("labels", None)  # multi-label targets do not apply: the answer is one option
        item["label"] = q.answer_class
        item["index"] = i
        item["options"] = torch.tensor(q.options, dtype=torch.long)
        item["answer"] = q.answer
        return item
