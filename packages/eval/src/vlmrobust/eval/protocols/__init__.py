"""Evaluation protocols: how a model of each role answers an eval set of each task (one module per role).

| name | class | role | tasks | stored key |
|---|---|---|---|---|
| ``zeroshot`` | :class:`ZeroShotClassification` | scorer | classification | ``zeroshot/<templates>`` |
| ``mcq-prompt`` | :class:`MCQByPrompt` | scorer | mcq | ``mcq/prompt-<templates>`` |
| ``mcq-generate`` | :class:`MCQGeneration` | vlm | mcq | ``mcq/generate-<prompt>`` |
| ``mcq-likelihood`` | :class:`MCQLikelihood` | vlm | mcq | ``mcq/likelihood-<reduction>-<prompt>`` (``mcq/cfg<t>-…``) |
| ``embed-zeroshot`` | :class:`EmbedderClassification` | embedder | classification | ``embed/zeroshot-<templates>[-<query>]`` |
| ``mcq-embed`` | :class:`EmbedderMCQ` | embedder | mcq | ``mcq/embed-<templates>[-<query>]`` |
| (training) | :class:`HeadClassification` | classifier | classification, mcq | ``head/<name>`` |

``HeadClassification`` evaluates trained heads (a cross-entropy fine-tuned head, a linear probe) inside
training runs; it is not registered for ``vlmrobust eval``, which loads models by spec.
"""

from vlmrobust.eval.protocols.base import BatchPredictions, EvalProtocol, MetricValue, ProtocolError, Role
from vlmrobust.eval.protocols.embedder import EmbedderClassification, EmbedderMCQ
from vlmrobust.eval.protocols.head import HeadClassification
from vlmrobust.eval.protocols.registry import PROTOCOLS, build_protocol
from vlmrobust.eval.protocols.scorer import MCQByPrompt, ZeroShotClassification
from vlmrobust.eval.protocols.vlm import MCQGeneration, MCQLikelihood

__all__ = [
    "PROTOCOLS",
    "BatchPredictions",
    "EmbedderClassification",
    "EmbedderMCQ",
    "EvalProtocol",
    "HeadClassification",
    "MCQByPrompt",
    "MCQGeneration",
    "MCQLikelihood",
    "MetricValue",
    "ProtocolError",
    "Role",
    "ZeroShotClassification",
    "build_protocol",
]
