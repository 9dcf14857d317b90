"""Protocols of generative VLMs on multiple-choice questions: answer generation, likelihood, and CFG.

* ``MCQGeneration`` (``mcq/generate-<prompt>``): the question lists the options as lettered lines and asks
  for the letter; the generated answer is parsed by :func:`vlmrobust.eval.answers.parse_choice` (letters in
  every common form, or option text). An unparseable or ambiguous answer is scored wrong, never guessed,
  and counted (``unparsed`` and ``ambiguous`` cells); the raw generation is stored per sample.
* ``MCQLikelihood`` (``mcq/likelihood-<reduction>-<prompt>``): the log-likelihood of each option's class
  name as the answer to the question (options not listed), summed or averaged per token; highest wins.
  With ``guidance`` t, options are ranked by t·log p(o | image, prompt) + (1 − t)·log p(o | prompt)
  (classifier-free guidance, why_vlms §3; key ``mcq/cfg<t>-<reduction>-<prompt>``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd
import torch

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.answers import parse_choice
from vlmrobust.eval.metrics import cfg_scores, mcq_correct, option_choice
from vlmrobust.eval.prompts import QuestionPrompt, format_question, question_text
from vlmrobust.eval.protocols.base import BatchPredictions, EvalProtocol, MetricValue, batch_index
from vlmrobust.models.protocols import GenerativeVLM


def option_names(info: EvalSetInfo, batch: dict[str, Any]) -> list[list[str]]:
    """Class names of every question's options, in the order shown."""
    options = torch.as_tensor(batch["options"], dtype=torch.long).tolist()  # [B, K]
    return [[info.class_names[k] for k in row] for row in options]


def batch_images(batch: dict[str, Any]) -> list[Any]:
    """The batch's PIL images as a list (the runner's collate keeps them unstacked)."""
    images = batch["image"]
    return list(images) if isinstance(images, Sequence) else [images]


class MCQGeneration(EvalProtocol):
    """MCQ answered by generating a letter (see the module docstring).

    Args:
        prompt: question prompt (appendix A.4 Prompts 3-5, or holistic §IX `holistic-ix`).
        max_new_tokens: generation budget per answer.
    """

    role = "vlm"
    tasks = ("mcq",)
    image_input = "pil"

    def __init__(
        self,
        prompt: QuestionPrompt = "a4-3",  # question prompt (appendix A.4, or holistic-ix)
        max_new_tokens: int = 16,  # generation budget per answer
    ) -> None:
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens
        question_text(prompt)  # validate early

    @property
    def key(self) -> str:
        return f"mcq/generate-{self.prompt}"

    def predict(self, model: GenerativeVLM, info: EvalSetInfo, batch: dict[str, Any]) -> BatchPredictions:
        names = option_names(info, batch)
        prompts = [format_question(self.prompt, opts) for opts in names]
        answers = model.generate(prompts, batch_images(batch), max_new_tokens=self.max_new_tokens)
        parsed = [parse_choice(a, opts) for a, opts in zip(answers, names, strict=True)]
        choice = torch.tensor([-1 if p.choice is None else p.choice for p in parsed], dtype=torch.long)
        answer = torch.as_tensor(batch["answer"], dtype=torch.long).cpu()
        extra = [{"output": a, "status": p.status} for a, p in zip(answers, parsed, strict=True)]
        return BatchPredictions(batch_index(batch), choice, answer, mcq_correct(choice, answer), extra)

    def metrics(self, records: pd.DataFrame, info: EvalSetInfo) -> dict[str, MetricValue]:
        return {**super().metrics(records, info), **parse_status_cells(records)}


class MCQLikelihood(EvalProtocol):
    """MCQ answered by the likelihood of each option's name (see the module docstring).

    Args:
        prompt: question prompt (appendix A.4 Prompts 3-5); options are not listed in it.
        reduction: ``sum`` or per-token ``mean`` of the option's token log-probabilities.
        guidance: classifier-free guidance coefficient t (``None``: plain likelihood, i.e. t = 1).
        leading_space: prefix each option with a space, as it follows "ASSISTANT:" in running text.
    """

    role = "vlm"
    tasks = ("mcq",)
    image_input = "pil"

    def __init__(
        self,
        prompt: QuestionPrompt = "a4-3",  # question prompt (appendix A.4, or holistic-ix)
        reduction: Literal["sum", "mean"] = "mean",  # sum or per-token mean log-probability
        guidance: float | None = None,  # CFG coefficient t; None = plain likelihood
        leading_space: bool = True,  # score " <name>" rather than "<name>"
    ) -> None:
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
        question_text(prompt)
        self.prompt, self.reduction, self.guidance = prompt, reduction, guidance
        self.leading_space = leading_space

    @property
    def key(self) -> str:
        head = "likelihood" if self.guidance is None else f"cfg{self.guidance:g}"
        return f"mcq/{head}-{self.reduction}-{self.prompt}" + ("" if self.leading_space else "-nospace")

    def predict(self, model: GenerativeVLM, info: EvalSetInfo, batch: dict[str, Any]) -> BatchPredictions:
        names = option_names(info, batch)
        conts = [[(" " if self.leading_space else "") + n for n in opts] for opts in names]
        prompts = [question_text(self.prompt)] * len(names)
        with_image = model.loglikelihood_batch(batch_images(batch), prompts, conts)
        scores = torch.stack([getattr(s, self.reduction) for s in with_image])  # [B, K]
        if self.guidance is not None:
            without = model.loglikelihood_batch(None, prompts, conts)
            text_only = torch.stack([getattr(s, self.reduction) for s in without])
            scores = cfg_scores(scores, text_only, self.guidance)
        choice = option_choice(scores)
        answer = torch.as_tensor(batch["answer"], dtype=torch.long).cpu()
        extra = [{"scores": [round(float(v), 6) for v in row]} for row in scores]
        return BatchPredictions(batch_index(batch), choice, answer, mcq_correct(choice, answer), extra)


def parse_status_cells(records: pd.DataFrame) -> dict[str, MetricValue]:
    """The share (and ``count``) of stored generations that were ``unparsed``, ``ambiguous`` or ``empty``."""
    n = len(records)
    counts = Counter(e["status"] for e in records["extra"])
    return {s: MetricValue(counts[s] / n if n else float("nan"), n, {"count": counts[s]})
            for s in ("unparsed", "ambiguous", "empty")}  # fmt: skip
