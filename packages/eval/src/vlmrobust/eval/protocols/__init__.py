"""Evaluation protocols: how a model of each role answers an eval set of each task (one module per role).

| name | class | role | tasks | stored key |
|---|---|---|---|---|
| ``zeroshot`` | :class:`ZeroShotClassification` | scorer | classification | ``zeroshot/<templates>`` |
| ``mcq-prompt`` | :class:`MCQByPrompt` | scorer | mcq | ``mcq/prompt-<templates>`` |
| ``mcq-generate`` | :class:`MCQGeneration` | vlm | mcq | ``mcq/generate-<prompt>`` |
| ``mcq-likelihood`` | :class:`MCQLikelihood` | vlm | mcq | ``mcq/likelihood-<reduction>-<prompt>`` (``mcq/cfg<t>-…``) |
| ``embed-zeroshot`` | :class:`EmbedderClassification` | embedder | classification | ``embed/zeroshot-<templates>[-<query>]`` |
| ``mcq-embed`` | :class:`EmbedderMCQ` | embedder | mcq | ``mcq/embed-<templates>[-<query>]`` |
| ``caption-select`` | :class:`CaptionSelection` | scorer | captions, images | ``captions/score`` |
| ``retrieval`` | :class:`Retrieval` | scorer | retrieval | ``retrieval/score`` |
| ``caption-likelihood`` | :class:`CaptionLikelihood` | vlm | captions, images | ``captions/likelihood-<reduction>`` (``captions/cfg<t>-…``) |
| ``caption-generate`` | :class:`CaptionGeneration` | vlm | captions | ``captions/generate[-m3id<α>-<λ>]`` |
| ``vqascore`` | :class:`VQAScore` | vlm | captions, images | ``captions/vqascore`` |
| (training) | :class:`HeadClassification` | classifier | classification, mcq | ``head/<name>`` |

``HeadClassification`` evaluates trained heads (a cross-entropy fine-tuned head, a linear probe) inside
training runs; it is not registered for ``vlmrobust eval``, which loads models by spec.
"""

from vlmrobust.eval.protocols.base import BatchPredictions, EvalProtocol, MetricValue, ProtocolError, Role
from vlmrobust.eval.protocols.embedder import EmbedderClassification, EmbedderMCQ
from vlmrobust.eval.protocols.head import HeadClassification
from vlmrobust.eval.protocols.registry import PROTOCOLS, build_protocol
from vlmrobust.eval.protocols.scorer import MCQByPrompt, ZeroShotClassification
from vlmrobust.eval.protocols.scorer_choice import CaptionSelection, Retrieval
from vlmrobust.eval.protocols.vlm import MCQGeneration, MCQLikelihood
from vlmrobust.eval.protocols.vlm_choice import CaptionGeneration, CaptionLikelihood, VQAScore

__all__ = [
    "PROTOCOLS",
    "BatchPredictions",
    "CaptionGeneration",
    "CaptionLikelihood",
    "CaptionSelection",
    "EmbedderClassification",
    "EmbedderMCQ",
    "EvalProtocol",
    "HeadClassification",
    "MCQByPrompt",
    "MCQGeneration",
    "MCQLikelihood",
    "MetricValue",
    "ProtocolError",
    "Retrieval",
    "Role",
    "VQAScore",
    "ZeroShotClassification",
    "build_protocol",
]
