"""Multiple-choice rules: the chosen option, correctness, and classifier-free guidance of likelihoods."""

from __future__ import annotations

import torch
from torch import Tensor


def option_choice(scores: Tensor) -> Tensor:
    """The highest-scoring option of each question, [B, K] -> [B]; ties go to the lowest index."""
    if scores.ndim != 2:
        raise ValueError(f"option scores must be [B, K], got shape {tuple(scores.shape)}")
    bad = torch.isnan(scores).any(dim=1)
    if bad.any():
        raise ValueError(f"option scores of question(s) {bad.nonzero().reshape(-1).tolist()[:5]} contain NaN")
    return scores.argmax(dim=1)


def mcq_correct(choice: Tensor, answer: Tensor) -> Tensor:
    """Whether each choice [B] is the answer [B]; choice ``-1`` (no parsable answer) is always wrong."""
    if choice.shape != answer.shape:
        raise ValueError(f"choice {tuple(choice.shape)} and answer {tuple(answer.shape)} differ in shape")
    return (choice == answer.to(choice.device)) & (choice >= 0)


def cfg_scores(logp_with_image: Tensor, logp_without_image: Tensor, t: float) -> Tensor:
    """Classifier-free guidance: ``t·log p(o | image, prompt) + (1 − t)·log p(o | prompt)`` (why_vlms §3).

    The paper writes the rule with "prob"; as in the CFG of Sanchez et al. (its reference [38]) the
    terms are log-probabilities: ``log p(o | prompt) + t·(log p(o | image, prompt) − log p(o | prompt))``.
    ``t`` weighs the image-conditioned term; ``t = 1`` is plain likelihood, ``t > 1`` pushes away from
    what the prompt alone predicts.
    """
    if logp_with_image.shape != logp_without_image.shape:
        raise ValueError(
            f"with-image scores {tuple(logp_with_image.shape)} and text-only scores "
            f"{tuple(logp_without_image.shape)} differ in shape"
        )
    return t * logp_with_image + (1.0 - t) * logp_without_image
