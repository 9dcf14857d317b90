"""Prompt sets: CLIP class-prompt templates and the VLM question prompts of multiple-choice evaluation.

Template sets for image-text scorers (``"{}"`` = class name):

* ``single``: ``"a photo of a {}."`` (Radford et al.; why_vlms §2.3 uses it without ensembling);
* ``a4-1``, ``a4-2``: Prompts 1 and 2 of appendix A.4 of the main paper (``"A photo of a {}"``, ``"{}"``);
* ``openai80``: the 80 OpenAI ImageNet templates (prompt ensemble);
* ``dataset``: the eval set's own ``EvalSetInfo.templates``.

Question prompts for generative VLMs and embedders (Prompts 3-5 of appendix A.4): ``a4-3`` "What type of
object is in this photo?", ``a4-4`` "Select the most appropriate label for the object shown in the image.",
``a4-5`` "Identify the object in this image."; and ``holistic-ix``, the ImageNet-D prompt of
holistic_clip_robustness §IX ("What is the main object in this image? Choose from the following list:"). A
multiple-choice question lists the options under the question as ``A. <name>`` lines and asks for the letter
(LLaVA's multiple-choice instruction); ``holistic-ix`` keeps the paper's own layout (``format_question``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from vlmrobust.core.suggest import did_you_mean

TemplateSet = Literal["single", "a4-1", "a4-2", "openai80", "dataset"]
QuestionPrompt = Literal["a4-3", "a4-4", "a4-5", "holistic-ix"]

TEMPLATE_SETS: tuple[str, ...] = ("single", "a4-1", "a4-2", "openai80", "dataset")
QUESTION_PROMPTS: dict[str, str] = {
    "a4-3": "What type of object is in this photo?",
    "a4-4": "Select the most appropriate label for the object shown in the image.",
    "a4-5": "Identify the object in this image.",
    "holistic-ix": "What is the main object in this image?",
}
#: holistic_clip_robustness §IX lists the options after "Choose from the following list:" as ``A.<name>``
#: and closes with its own instruction.
HOLISTIC_IX_LIST = "Choose from the following list:"
HOLISTIC_IX_INSTRUCTION = "Please answer the question using the choice from the list."
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MCQ_INSTRUCTION = "Answer with the option's letter from the given choices directly."


def templates_for(name: str, dataset_templates: Sequence[str]) -> tuple[str, ...]:
    """The templates of set ``name`` (``dataset``: the eval set's own ``dataset_templates``)."""
    if name == "single":
        return ("a photo of a {}.",)
    if name == "a4-1":
        return ("A photo of a {}",)
    if name == "a4-2":
        return ("{}",)
    if name == "openai80":
        from vlmrobust.data.imagenet.metadata import clip_templates

        return clip_templates()
    if name == "dataset":
        if not dataset_templates:
            raise ValueError("template set 'dataset' chosen but the eval set declares no templates")
        return tuple(dataset_templates)
    raise ValueError(f"unknown template set {name!r}. {did_you_mean(name, TEMPLATE_SETS, 'template sets')}")


def question_text(name: str) -> str:
    """The question of prompt ``name`` (``a4-3`` … ``a4-5``)."""
    try:
        return QUESTION_PROMPTS[name]
    except KeyError:
        raise ValueError(
            f"unknown question prompt {name!r}. {did_you_mean(name, QUESTION_PROMPTS, 'question prompts')}"
        ) from None


def format_mcq(question: str, option_names: Sequence[str]) -> str:
    """``question``, one ``X. name`` line per option, then the letter instruction.

    Example: ``"What type of object is in this photo?\\nA. tench\\nB. goldfish\\nAnswer with the option's
    letter from the given choices directly."``
    """
    if len(option_names) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} options can be lettered, got {len(option_names)}")
    lines = [question, *(f"{LETTERS[i]}. {name}" for i, name in enumerate(option_names)), MCQ_INSTRUCTION]
    return "\n".join(lines)


def format_question(prompt: str, option_names: Sequence[str]) -> str:
    """The multiple-choice question of prompt ``prompt`` over ``option_names``: :func:`format_mcq` for the
    appendix A.4 prompts, the paper's layout for ``holistic-ix``::

        What is the main object in this image? Choose from the following list:
        A.tench
        B.goldfish
        Please answer the question using the choice from the list.
    """
    question = question_text(prompt)
    if prompt != "holistic-ix":
        return format_mcq(question, option_names)
    if len(option_names) > len(LETTERS):
        raise ValueError(f"at most {len(LETTERS)} options can be lettered, got {len(option_names)}")
    lines = [f"{question} {HOLISTIC_IX_LIST}", *(f"{LETTERS[i]}.{n}" for i, n in enumerate(option_names))]
    return "\n".join([*lines, HOLISTIC_IX_INSTRUCTION])
