"""Protocols of generative VLMs on the compositional benchmarks: caption likelihood, generation, VQAScore.

* ``CaptionLikelihood`` (``captions/likelihood-<reduction>``; with ``guidance`` t ``captions/cfg<t>-…``):
  each caption's log-likelihood as the answer to a describe prompt about the image, summed or averaged
  per token; with t, ranked by t·log p(c | image, prompt) + (1 − t)·log p(c | prompt) (``cfg_scores``;
  t = 0 is the blind, text-only baseline). A question set (MMVP) scores the full option text
  "(a) Open" / "(b) Closed" as the answer to the question (clip_erroneous_agreements §5.2). On an
  ``images`` set (MMVP-VLM) the statement is scored under each candidate image; the text-only term is
  then the same for every image, so guidance only rescales the image term (t = 0 ties every image).
* ``CaptionGeneration`` (``captions/generate``; with M3ID ``captions/generate-m3id<alpha>-<lambda>``): the
  options lettered as MMVP shows them, ``Question (a) X (b) Y`` + LLaVA's letter instruction (caption sets
  ask "Which caption describes the image?"), answered by greedy or M3ID decoding (§5.1) and parsed by
  ``parse_choice`` (letters or option text). Unparseable or ambiguous answers are wrong and counted
  (``unparsed``, ``ambiguous``, ``empty`` cells); the raw output is stored per sample.
* ``VQAScore`` (``captions/vqascore``; Lin et al. 2024): log P("Yes") for ``Does this figure show
  "{caption}"? Please answer yes or no.``, one prompt per (image, caption), on both set kinds.

Scores follow the benchmark's tie rule (``ChoiceProtocol.scored``). MMVP's relaxed pair metric needs
scores whose exp is a match strength: per-token mean log-probs (exp = inverse perplexity, the paper's
normalised perplexity) and log P(Yes); a summed log-prob is not (exp is the probability of the whole
string, which favours short options), so ``CaptionLikelihood(reduction="sum")`` sets no ``strength``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import torch
from torch import Tensor

from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.answers import parse_choice
from vlmrobust.eval.metrics import cfg_scores, mcq_correct
from vlmrobust.eval.prompts import LETTERS, MCQ_INSTRUCTION
from vlmrobust.eval.protocols.base import BatchPredictions, MetricValue, ProtocolError, Role, batch_index
from vlmrobust.eval.protocols.choice import ChoiceProtocol, batch_texts
from vlmrobust.eval.protocols.vlm import batch_images, parse_status_cells
from vlmrobust.models.protocols import ContinuationScores, GenerativeVLM

if TYPE_CHECKING:
    from vlmrobust.models.hf_vlm import HFGenerativeVLM

DESCRIBE_PROMPT = "Describe the image in one sentence."
CAPTION_QUESTION = "Which caption describes the image?"
VQASCORE_TEMPLATE = 'Does this figure show "{caption}"? Please answer yes or no.'
QUESTION_TEMPLATE = "{question} {option}"
#: Benchmarks whose cells compare option scores (c vs c_n vs c_p), which a generated answer has none of.
SCORE_ONLY_BENCHMARKS = ("hard-positives",)


def lettered(options: Sequence[str]) -> list[str]:
    """MMVP's option labels: ``["(a) Open", "(b) Closed"]``."""
    if len(options) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} options can be lettered, got {len(options)}")
    return [f"({LETTERS[i].lower()}) {o}" for i, o in enumerate(options)]


def choice_prompt(question: str, options: Sequence[str]) -> str:
    """MMVP's question prompt: ``question (a) X (b) Y`` then the letter instruction on its own line."""
    return f"{question} {' '.join(lettered(options))}\n{MCQ_INSTRUCTION}"


def prompt_tag(text: str, default: str) -> str:
    """Key suffix of a non-default prompt: ``-p`` + 8 hex digits of its sha256 (``""`` for the default)."""
    return "" if text == default else "-p" + hashlib.sha256(text.encode()).hexdigest()[:8]


def option_count(rows: Sequence[Sequence[Any]], what: str) -> int:
    """K, the length every row of a batch shares (``ValueError`` naming the lengths if they differ)."""
    sizes = sorted({len(r) for r in rows})
    if len(sizes) != 1:
        raise ValueError(f"every item of a batch needs the same number of {what}; got {sizes}")
    return sizes[0]


def option_scores(results: Sequence[ContinuationScores], reduction: Literal["sum", "mean"]) -> Tensor:
    """Per-question option scores [B, K]; every question must have the same K."""
    option_count([r.sum for r in results], "options")
    return torch.stack([getattr(r, reduction) for r in results])


def expand_images(batch: dict[str, Any]) -> tuple[list[Any], int]:
    """An ``images`` batch's candidate images flattened row by row (B·K), and K."""
    rows = [list(r) for r in batch["images"]]
    return [img for row in rows for img in row], option_count(rows, "images")


class CaptionLikelihood(ChoiceProtocol):
    """Pick the caption (or image) under which the caption is most likely (see the module docstring).

    Args:
        prompt: user message whose answer the captions are scored as (question sets use their question).
        reduction: ``sum`` or per-token ``mean`` of the caption's token log-probabilities.
        guidance: classifier-free guidance coefficient t (``None``: plain likelihood; 0: text only).
        question_prompt: on question sets, ``question`` alone or ``mcq``, MMVP's full prompt (question,
            lettered options, letter instruction) of the paper's multiple-choice setting.
        append_eos: end every continuation with the tokenizer's EOS (appendix A.2 scores "(a) Open</s>").
        leading_space: prefix each continuation with a space, as it follows "ASSISTANT:" in running text.
    """

    role = "vlm"
    image_input = "pil"

    def __init__(
        self,
        prompt: str = DESCRIBE_PROMPT,  # user message the captions answer (caption and image sets)
        reduction: Literal["sum", "mean"] = "mean",  # sum or per-token mean log-probability
        guidance: float | None = None,  # CFG coefficient t; None = plain likelihood, 0 = text only
        question_prompt: Literal["question", "mcq"] = "question",  # prompt of question sets (MMVP)
        append_eos: bool = False,  # score "<caption></s>" (appendix A.2)
        leading_space: bool = True,  # score " <caption>" rather than "<caption>"
    ) -> None:
        if reduction not in ("sum", "mean"):
            raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
        if question_prompt not in ("question", "mcq"):
            raise ValueError(f"question_prompt must be 'question' or 'mcq', got {question_prompt!r}")
        self.prompt, self.reduction, self.guidance = prompt, reduction, guidance
        self.question_prompt, self.append_eos, self.leading_space = question_prompt, append_eos, leading_space
        # exp(mean log-prob) is an inverse perplexity, a match strength; exp(sum) is not (module docstring)
        self.strength = "loglik" if reduction == "mean" else None

    @property
    def key(self) -> str:
        head = "likelihood" if self.guidance is None else f"cfg{self.guidance:g}"
        flags = ("-mcq" if self.question_prompt == "mcq" else "") + ("-eos" if self.append_eos else "")
        flags += "" if self.leading_space else "-nospace"
        return f"captions/{head}-{self.reduction}{flags}{prompt_tag(self.prompt, DESCRIBE_PROMPT)}"

    def predict(self, model: GenerativeVLM, info: EvalSetInfo, batch: dict[str, Any]) -> BatchPredictions:
        prompts, conts = self._questions(model, info, batch)
        if self.guidance is None:
            scores = self._with_image(model, info, batch, prompts, conts)
        elif self.guidance == 0:  # the blind baseline: no need to score with the image
            scores = self._text_only(model, info, batch, prompts, conts)
        else:
            with_image = self._with_image(model, info, batch, prompts, conts)
            scores = cfg_scores(
                with_image, self._text_only(model, info, batch, prompts, conts), self.guidance
            )
        return self.scored(info, batch, scores)

    def _questions(
        self, model: GenerativeVLM, info: EvalSetInfo, batch: dict[str, Any]
    ) -> tuple[list[str], list[list[str]]]:
        """Per item: the prompt and its continuations (an images set: its statement, scored per image)."""
        if info.task == "images":
            return [self.prompt] * len(batch["text"]), [[self._continuation(model, t)] for t in batch["text"]]
        texts = batch_texts(batch)
        if "question" not in batch:
            prompts, options = [self.prompt] * len(texts), texts
        elif self.question_prompt == "mcq":
            prompts = [choice_prompt(q, opts) for q, opts in zip(batch["question"], texts, strict=True)]
            options = [lettered(opts) for opts in texts]
        else:
            prompts, options = list(batch["question"]), [lettered(opts) for opts in texts]
        return prompts, [[self._continuation(model, t) for t in opts] for opts in options]

    def _with_image(
        self,
        model: GenerativeVLM,
        info: EvalSetInfo,
        batch: dict[str, Any],
        prompts: list[str],
        conts: list[list[str]],
    ) -> Tensor:
        """log p(caption | image, prompt) [B, K]."""
        if info.task != "images":
            return self._scores(model, batch_images(batch), prompts, conts)
        images, k = expand_images(batch)
        prompts, conts = [p for p in prompts for _ in range(k)], [c for c in conts for _ in range(k)]
        return self._scores(model, images, prompts, conts).reshape(-1, k)  # [B·K, 1] -> [B, K]

    def _text_only(
        self,
        model: GenerativeVLM,
        info: EvalSetInfo,
        batch: dict[str, Any],
        prompts: list[str],
        conts: list[list[str]],
    ) -> Tensor:
        """log p(caption | prompt) [B, K]; on an images set the same for every candidate image."""
        scores = self._scores(model, None, prompts, conts)  # [B, K], or [B, 1] on an images set
        return scores.expand(-1, len(batch["images"][0])) if info.task == "images" else scores

    def _scores(
        self, model: GenerativeVLM, images: Any, prompts: list[str], conts: list[list[str]]
    ) -> Tensor:
        return option_scores(model.loglikelihood_batch(images, prompts, conts), self.reduction)

    def _continuation(self, model: GenerativeVLM, text: str) -> str:
        eos = model.processor.tokenizer.eos_token if self.append_eos else ""
        return (" " if self.leading_space else "") + text + eos


class CaptionGeneration(ChoiceProtocol):
    """Pick the caption by generating its letter, greedily or with M3ID (see the module docstring).

    Args:
        decoding: ``greedy`` or ``m3id`` (needs an ``HFGenerativeVLM``).
        m3id_alpha: M3ID confidence threshold α: the correction applies while max log-prob < log α.
        m3id_lambda: M3ID's λ: the correction weight at token t is exp(λt) − 1.
        max_new_tokens: generation budget per answer.
        question: what caption sets (no ``question`` of their own) ask before the lettered captions.
    """

    role = "vlm"
    tasks = ("captions",)
    image_input = "pil"

    def __init__(
        self,
        decoding: Literal["greedy", "m3id"] = "greedy",  # decoding rule
        m3id_alpha: float = 0.6,  # M3ID confidence threshold (paper: 0.6)
        m3id_lambda: float = 0.15,  # M3ID growth rate of the correction weight (paper: 0.15)
        max_new_tokens: int = 16,  # generation budget per answer
        question: str = CAPTION_QUESTION,  # question of caption sets without one
    ) -> None:
        if decoding not in ("greedy", "m3id"):
            raise ValueError(f"decoding must be 'greedy' or 'm3id', got {decoding!r}")
        self.decoding, self.m3id_alpha, self.m3id_lambda = decoding, m3id_alpha, m3id_lambda
        self.max_new_tokens, self.question = max_new_tokens, question

    @property
    def key(self) -> str:
        m3id = f"-m3id{self.m3id_alpha:g}-{self.m3id_lambda:g}" if self.decoding == "m3id" else ""
        return f"captions/generate{m3id}{prompt_tag(self.question, CAPTION_QUESTION)}"

    def check(self, role: Role, info: EvalSetInfo) -> None:
        super().check(role, info)  # role, and captions sets only
        if info.benchmark in SCORE_ONLY_BENCHMARKS:
            raise ProtocolError(
                f"protocol {self.key!r} gives no option scores, which {info.benchmark} compares; "
                "use captions/likelihood-mean or captions/vqascore"
            )

    def prepare(self, model: Any, info: EvalSetInfo, dataset: Any = None) -> None:
        if self.decoding == "m3id":
            m3id_vlm(model, self.key)  # refuse other VLMs before the first batch

    def predict(self, model: GenerativeVLM, info: EvalSetInfo, batch: dict[str, Any]) -> BatchPredictions:
        texts = batch_texts(batch)
        questions = batch.get("question") or [self.question] * len(texts)
        prompts = [choice_prompt(q, opts) for q, opts in zip(questions, texts, strict=True)]
        answers = self._generate(model, prompts, batch_images(batch))
        parsed = [parse_choice(a, opts) for a, opts in zip(answers, texts, strict=True)]
        pred = torch.tensor([-1 if p.choice is None else p.choice for p in parsed], dtype=torch.long)
        answer = torch.as_tensor(batch["answer"], dtype=torch.long).cpu()
        extra = [
            {"output": a, "status": p.status, "meta": m}
            for a, p, m in zip(answers, parsed, batch["meta"], strict=True)
        ]
        return BatchPredictions(batch_index(batch), pred, answer, mcq_correct(pred, answer), extra)

    def metrics(self, records: pd.DataFrame, info: EvalSetInfo) -> dict[str, MetricValue]:
        out = super().metrics(records, info)
        return out | parse_status_cells(records)

    def _generate(self, model: GenerativeVLM, prompts: list[str], images: list[Any]) -> list[str]:
        if self.decoding == "greedy":
            return model.generate(prompts, images, max_new_tokens=self.max_new_tokens)
        from vlmrobust.models.m3id import generate_m3id

        vlm = m3id_vlm(model, self.key)
        return generate_m3id(vlm, prompts, images, self.max_new_tokens, self.m3id_alpha, self.m3id_lambda)


def m3id_vlm(model: Any, key: str) -> HFGenerativeVLM:
    """``model`` if it is an ``HFGenerativeVLM`` (M3ID reads its logits), else a ``ProtocolError``."""
    from vlmrobust.models.hf_vlm import HFGenerativeVLM

    if not isinstance(model, HFGenerativeVLM):
        raise ProtocolError(
            f"protocol {key!r} decodes with M3ID, which needs the logits of an HFGenerativeVLM "
            f"(load_vlm('hf:…')); got a {type(model).__name__}. Use decoding='greedy' for other VLMs"
        )
    return model


class VQAScore(ChoiceProtocol):
    """Pick the caption (or image) with the highest P("Yes") to "does this figure show …" (module docstring).

    Scores are log P("Yes") (summed over its tokens); exp of a score is the VQAScore itself, a match
    probability, so MMVP's relaxed pair metric is computed from them.

    Args:
        template: the yes/no question, with ``{caption}``.
        question_template: the caption of a question set's option (MMVP), with ``{question}`` and ``{option}``.
        leading_space: score " Yes" rather than "Yes", as it follows "ASSISTANT:" in running text.
    """

    role = "vlm"
    image_input = "pil"
    strength = "loglik"

    def __init__(
        self,
        template: str = VQASCORE_TEMPLATE,  # yes/no question with "{caption}"
        question_template: str = QUESTION_TEMPLATE,  # caption of a question set's option (MMVP)
        leading_space: bool = True,  # score " Yes" rather than "Yes"
    ) -> None:
        if "{caption}" not in template:
            raise ValueError(f"template must contain '{{caption}}', got {template!r}")
        if "{option}" not in question_template:
            raise ValueError(f"question_template must contain '{{option}}', got {question_template!r}")
        self.template, self.question_template, self.leading_space = template, question_template, leading_space

    @property
    def key(self) -> str:
        tag = prompt_tag(
            f"{self.template}\n{self.question_template}", f"{VQASCORE_TEMPLATE}\n{QUESTION_TEMPLATE}"
        )
        return f"captions/vqascore{'' if self.leading_space else '-nospace'}{tag}"

    def predict(self, model: GenerativeVLM, info: EvalSetInfo, batch: dict[str, Any]) -> BatchPredictions:
        if info.task == "images":
            images, k = expand_images(batch)
            captions = [t for t in batch["text"] for _ in range(k)]  # [B·K]: each statement under each image
        else:
            texts = batch_texts(batch)
            if "question" in batch:
                texts = [[self.question_template.format(question=q, option=o) for o in opts]
                         for q, opts in zip(batch["question"], texts, strict=True)]  # fmt: skip
            k = option_count(texts, "options")
            # [B·K]: each image with each of its captions
            images = [img for img in batch_images(batch) for _ in range(k)]
            captions = [c for opts in texts for c in opts]
        prompts = [self.template.format(caption=c) for c in captions]
        yes = [[(" " if self.leading_space else "") + "Yes"]] * len(prompts)
        scores = option_scores(model.loglikelihood_batch(images, prompts, yes), "sum")  # [B·K, 1]
        return self.scored(info, batch, scores.reshape(-1, k))  # [B, K]
