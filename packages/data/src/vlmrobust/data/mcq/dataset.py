"""Torch dataset over MCQ questions: the eval batch of the image's set plus the options and answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from vlmrobust.data.imagenet.dataset import ImageNetEvalDataset
from vlmrobust.data.mcq.builder import Question


class MCQDataset(Dataset[dict[str, Any]]):
    """Questions over an ImageNet-family eval dataset, yielding CONVENTIONS.md eval batches plus options.

    Items are ``{"image", "label", "index", "options", "answer"}``: ``label`` is the correct class (an
    index into the set's ``class_names``, as for plain classification), ``options`` a ``(K,)`` long
    tensor of the class indices shown, in order, and ``answer`` the position of the correct one.
    ``index`` is the question's position; ``sample_id(i)`` its ``question_id`` (stable across runs).

    Args:
        base: the eval dataset the questions' images come from (its transform is used).
        questions: questions on that set's images (``sample_id`` must be in ``base``).
    """

    def __init__(self, base: ImageNetEvalDataset, questions: Sequence[Question]) -> None:
        rows = {s.sample_id: i for i, s in enumerate(base.image_set.samples)}
        missing = [q.question_id for q in questions if q.sample_id not in rows]
        if missing:
            raise KeyError(
                f"{len(missing)} question(s) ask about images not in {base.image_set.name!r}, e.g. {missing[0]!r}"
            )
        self.base = base
        self.questions = tuple(questions)
        self._rows = [rows[q.sample_id] for q in self.questions]

    @property
    def transform(self):
        """The image transform (shared with ``base``)."""
        return self.base.transform

    @transform.setter
    def transform(self, value) -> None:
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
