"""Protocols of image-text scorers on the compositional benchmarks: caption / image selection and retrieval.

* ``CaptionSelection`` (``captions/score``): the cosine of the image with each caption option (What'sUp,
  COCO/GQA-spatial, ARO, hard positives) or, on an ``images`` set (MMVP-VLM), of the statement with each
  candidate image; the benchmark's tie rule picks the option. Question sets (MMVP) score each option
  through ``question_template`` (the paper's manual conversion of MMVP to captions was not published).
* ``Retrieval`` (``retrieval/score``): COCO / Flickr30k image-text retrieval; text→image and image→text
  recall@1/5/10 as CLIP_benchmark computes them. The whole set is embedded and ranked in ``prepare``
  (chunked top-k, bounded memory); ``predict`` stores each image's rank and its captions' ranks.

Scores are cosines (no logit scale or bias): every decision here (argmax, MMVP-VLM's softmax over two
images, the relaxed MMVP pair rule) is invariant to a positive scale and a shared bias, and the stored
scores then read as similarities.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import Tensor

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.metrics import Accuracy, recall_at_k, retrieval_ranks
from vlmrobust.eval.protocols.base import (
    BatchPredictions,
    EvalProtocol,
    MetricValue,
    ProtocolError,
    batch_index,
)
from vlmrobust.eval.protocols.choice import ChoiceProtocol, batch_texts
from vlmrobust.models.protocols import ImageTextScorer


def _encode_texts(model: ImageTextScorer, texts: list[str], batch_size: int, device: torch.device) -> Tensor:
    """Unit-norm text embeddings [T, D], ``batch_size`` texts per forward."""
    out = [
        model.encode_text(texts[i : i + batch_size], normalize=True) for i in range(0, len(texts), batch_size)
    ]
    return torch.cat(out).float().to(device)


class CaptionSelection(ChoiceProtocol):
    """Pick the caption (or image) with the highest image-text cosine (see the module docstring).

    Args:
        question_template: text of each option of a question set (MMVP), with ``{question}`` and ``{option}``.
        text_batch_size: texts encoded per text forward pass.
    """

    role = "scorer"
    image_input = "tensor"
    strength = "cosine"

    def __init__(
        self,
        question_template: str = "{question} {option}",  # option text of question sets (MMVP)
        text_batch_size: int = 256,  # texts per text forward
    ) -> None:
        if "{option}" not in question_template:
            raise ValueError(f"question_template must contain '{{option}}', got {question_template!r}")
        self.question_template = question_template
        self.text_batch_size = text_batch_size

    @property
    def key(self) -> str:
        return "captions/score"

    def predict(self, model: ImageTextScorer, info: EvalSetInfo, batch: dict[str, Any]) -> BatchPredictions:
        if info.task == "images":
            return self.scored(info, batch, self._image_scores(model, batch))
        return self.scored(info, batch, self._caption_scores(model, batch))

    def _caption_scores(self, model: ImageTextScorer, batch: dict[str, Any]) -> Tensor:
        texts = batch_texts(batch)
        if "question" in batch:
            texts = [[self.question_template.format(question=q, option=o) for o in opts]
                     for q, opts in zip(batch["question"], texts, strict=True)]  # fmt: skip
        k = len(texts[0])
        if any(len(t) != k for t in texts):
            raise ValueError(
                f"every item of a batch needs the same number of options; got {sorted({len(t) for t in texts})}"
            )
        image = batch["image"]
        image_emb = model.encode_image(image.to(model.device), normalize=True).float()  # [B, D]
        text_emb = _encode_texts(
            model, [t for opts in texts for t in opts], self.text_batch_size, image_emb.device
        )
        text_emb = text_emb.reshape(len(texts), k, -1)  # [B, K, D]
        return torch.einsum("bd,bkd->bk", image_emb, text_emb)

    def _image_scores(self, model: ImageTextScorer, batch: dict[str, Any]) -> Tensor:
        images = batch["images"]  # B lists of K image tensors
        k = len(images[0])
        stacked = torch.stack([img for row in images for img in row]).to(model.device)  # [B*K, 3, H, W]
        image_emb = (
            model.encode_image(stacked, normalize=True).float().reshape(len(images), k, -1)
        )  # [B, K, D]
        text_emb = _encode_texts(model, list(batch["text"]), self.text_batch_size, image_emb.device)  # [B, D]
        return torch.einsum("bkd,bd->bk", image_emb, text_emb)


class Retrieval(EvalProtocol):
    """Image-text retrieval recall@K in both directions (see the module docstring).

    Stores ``t2i_r<K>`` (mean over captions: its image in the top K images) and ``i2t_r<K>`` (mean over
    images: any of its captions in the top K captions) for K in ``ks``, and ``top1`` = ``i2t_r1``.

    Args:
        ks: the K of recall@K.
        batch_size: images or texts per forward pass while embedding the set.
        chunk: caption / image rows ranked at a time (bounds memory).
    """

    role = "scorer"
    tasks = ("retrieval",)
    image_input = "tensor"

    def __init__(
        self,
        ks: tuple[int, ...] = (1, 5, 10),  # the K of recall@K
        batch_size: int = 256,  # images or texts per forward while embedding the set
        chunk: int = 256,  # rows ranked at a time (bounds memory)
    ) -> None:
        if not ks or min(ks) < 1:
            raise ValueError(f"ks must be positive integers, got {ks}")
        self.ks, self.batch_size, self.chunk = tuple(ks), batch_size, chunk
        self._ranks: dict[str, tuple[Tensor, Tensor]] = {}

    @property
    def key(self) -> str:
        return "retrieval/score"

    def prepare(self, model: ImageTextScorer, info: EvalSetInfo, dataset: Any = None) -> None:
        if dataset is None or not hasattr(dataset, "captions"):
            raise ProtocolError(f"{self.key} ranks a whole set: prepare needs {info.name}'s RetrievalDataset")
        device = model.device
        with torch.inference_mode():
            text_emb = _encode_texts(model, list(dataset.captions), self.batch_size, device)  # [T, D]
            image_emb = torch.cat(
                [
                    model.encode_image(
                        torch.stack(
                            [dataset[i]["image"] for i in range(s, min(s + self.batch_size, len(dataset)))]
                        ).to(device),
                        normalize=True,
                    ).float()
                    for s in range(0, len(dataset), self.batch_size)
                ]
            )  # fmt: skip  [I, D]
        caption_image = torch.as_tensor(dataset.caption_image, dtype=torch.long, device=device)
        t2i, i2t = retrieval_ranks(image_emb, text_emb, caption_image, chunk=self.chunk)
        self._ranks[info.name] = (t2i.cpu(), i2t.cpu())

    def predict(self, model: ImageTextScorer, info: EvalSetInfo, batch: dict[str, Any]) -> BatchPredictions:
        if info.name not in self._ranks:
            raise RuntimeError(f"{self.key}: prepare(model, info, dataset) was not called for {info.name!r}")
        t2i, i2t = self._ranks[info.name]
        index = batch_index(batch)
        rank = i2t[index]
        extra = [{"i2t_rank": int(r), "t2i_ranks": t2i[torch.as_tensor(ids)].tolist()}
                 for r, ids in zip(rank, batch["caption_ids"], strict=True)]  # fmt: skip
        return BatchPredictions(index, rank, index.clone(), rank == 0, extra)

    def metrics(self, records: pd.DataFrame, info: EvalSetInfo) -> dict[str, MetricValue]:
        i2t = torch.as_tensor([e["i2t_rank"] for e in records["extra"]])
        t2i = torch.as_tensor([r for e in records["extra"] for r in e["t2i_ranks"]])
        out: dict[str, Accuracy] = {}
        for name, ranks in (("i2t", i2t), ("t2i", t2i)):
            out |= {f"{name}_r{k}": acc for k, acc in recall_at_k(ranks, self.ks).items()}
        cells = {name: MetricValue.of(acc) for name, acc in out.items()}
        cells["top1"] = MetricValue.of(recall_at_k(i2t, (1,))[1])
        return cells
