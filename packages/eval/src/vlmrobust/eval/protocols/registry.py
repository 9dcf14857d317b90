"""Protocols by name: what ``vlmrobust eval --protocol NAME`` and configs resolve."""

from __future__ import annotations

from typing import Any

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.eval.protocols.base import EvalProtocol
from vlmrobust.eval.protocols.embedder import EmbedderClassification, EmbedderMCQ
from vlmrobust.eval.protocols.scorer import MCQByPrompt, ZeroShotClassification
from vlmrobust.eval.protocols.scorer_choice import CaptionSelection, Retrieval
from vlmrobust.eval.protocols.vlm import MCQGeneration, MCQLikelihood
from vlmrobust.eval.protocols.vlm_choice import CaptionGeneration, CaptionLikelihood, VQAScore

PROTOCOLS: dict[str, type[EvalProtocol]] = {
    "zeroshot": ZeroShotClassification,
    "mcq-prompt": MCQByPrompt,
    "mcq-generate": MCQGeneration,
    "mcq-likelihood": MCQLikelihood,
    "embed-zeroshot": EmbedderClassification,
    "mcq-embed": EmbedderMCQ,
    "caption-select": CaptionSelection,
    "retrieval": Retrieval,
    "caption-likelihood": CaptionLikelihood,
    "caption-generate": CaptionGeneration,
    "vqascore": VQAScore,
}


def build_protocol(name: str, **kwargs: Any) -> EvalProtocol:
    """The protocol registered as ``name``, constructed with ``kwargs``."""
    try:
        cls = PROTOCOLS[name]
    except KeyError:
        raise ValueError(f"unknown protocol {name!r}. {did_you_mean(name, PROTOCOLS, 'protocols')}") from None
    return cls(**kwargs)
