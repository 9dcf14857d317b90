"""Protocols of VLM2Vec-style embedders: image query vs class or option texts, cosine argmax.

The query is the image with the query text (``""``: the image alone, caption-style; or a question of
appendix A.4, VQA-style) through the embedder's query template; targets are the class prompts of a template
set (the mean of their normalised embeddings, normalised again). Classification takes the argmax over all
classes (over the mapped columns for ObjectNet-like sets), MCQ over each question's options.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import torch
from torch import Tensor

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.metrics import check_scores
from vlmrobust.eval.prompts import QUESTION_PROMPTS, TemplateSet, templates_for
from vlmrobust.eval.protocols.base import BatchPredictions, EvalProtocol, MetricValue
from vlmrobust.eval.protocols.scoring import choose_option, class_scores, classification_metrics, classify
from vlmrobust.eval.protocols.vlm import batch_images
from vlmrobust.models.protocols import EmbeddingModel


class _EmbedderProtocol(EvalProtocol):
    role = "embedder"
    image_input = "pil"

    def __init__(self, templates: TemplateSet, query: str, text_batch_size: int) -> None:
        self.templates = templates
        self.query = query
        self.text_batch_size = text_batch_size
        self._targets: dict[str, Tensor] = {}

    @property
    def query_text(self) -> str:
        """The text sent with each image: a named question prompt, or ``query`` verbatim."""
        return QUESTION_PROMPTS.get(self.query, self.query)

    @property
    def _suffix(self) -> str:
        return f"{self.templates}" + (f"-{self.query}" if self.query else "")

    def prepare(self, model: EmbeddingModel, info: EvalSetInfo, dataset: Any = None) -> None:
        templates = templates_for(self.templates, info.templates)
        prompts = [t.format(name) for name in info.columns for t in templates]
        with torch.no_grad():
            emb = torch.cat(
                [
                    torch.nn.functional.normalize(
                        model.embed_targets(prompts[i : i + self.text_batch_size]), dim=-1
                    )
                    for i in range(0, len(prompts), self.text_batch_size)
                ]
            )
        emb = emb.view(len(info.columns), len(templates), -1).mean(1)  # [C, T, D] -> [C, D]
        self._targets[info.name] = torch.nn.functional.normalize(emb.float(), dim=-1)

    def _class_scores(self, model: EmbeddingModel, info: EvalSetInfo, batch: dict[str, Any]) -> Tensor:
        images = batch_images(batch)
        with torch.no_grad():
            queries = model.embed_queries([self.query_text] * len(images), images)
        queries = torch.nn.functional.normalize(queries.float(), dim=-1)
        targets = self._targets[info.name].to(queries.device)
        cos = queries @ targets.T  # [B, columns]
        check_scores(cos, len(info.columns), info.name)
        return class_scores(cos, info).cpu()


class EmbedderClassification(_EmbedderProtocol):
    """Classification by an embedder (``embed/zeroshot-<templates>[-<query>]``): cosine argmax over classes.

    Args:
        templates: template set of the class texts.
        query: text sent with each image: ``""`` (the image alone), a question prompt name (``a4-3`` …) or
            any text.
        text_batch_size: target texts embedded per forward pass.
    """

    tasks = ("classification",)

    def __init__(
        self,
        templates: TemplateSet = "dataset",  # class-text template set
        query: str = "",  # "" = image only; a4-3..a4-5 = a question prompt; else literal text
        text_batch_size: int = 64,  # target texts per forward
    ) -> None:
        super().__init__(templates, query, text_batch_size)

    @property
    def key(self) -> str:
        return f"embed/zeroshot-{self._suffix}"

    def predict(self, model: EmbeddingModel, info: EvalSetInfo, batch: dict[str, Any]) -> BatchPredictions:
        return classify(self._class_scores(model, info, batch), info, batch)

    def metrics(self, records: pd.DataFrame, info: EvalSetInfo) -> dict[str, MetricValue]:
        return classification_metrics(records, info)


class EmbedderMCQ(_EmbedderProtocol):
    """MCQ by an embedder (``mcq/embed-<templates>[-<query>]``): the option text nearest the image query.

    Args:
        templates: template set of the option texts.
        query: text sent with each image (see ``EmbedderClassification``).
        text_batch_size: target texts embedded per forward pass.
    """

    tasks = ("mcq",)

    def __init__(
        self,
        templates: TemplateSet = "dataset",  # option-text template set
        query: str = "",  # "" = image only; a4-3..a4-5 = a question prompt; else literal text
        text_batch_size: int = 64,  # target texts per forward
    ) -> None:
        super().__init__(templates, query, text_batch_size)

    @property
    def key(self) -> str:
        return f"mcq/embed-{self._suffix}"

    def predict(self, model: EmbeddingModel, info: EvalSetInfo, batch: dict[str, Any]) -> BatchPredictions:
        return choose_option(self._class_scores(model, info, batch), batch)
