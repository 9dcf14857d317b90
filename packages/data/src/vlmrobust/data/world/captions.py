"""Captions and question-answer pairs for single-object world images.

The class name always appears verbatim (the surface form of ``CLASS_NAMES`` used by zero-shot prompts such
as ``"a photo of a {}."``); colour, size, background and position are attributes mentioned by some templates.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

#: Caption templates per domain; fields come from the domain's attrs (``shape`` always present).
TEMPLATES: dict[str, tuple[str, ...]] = {
    "filled": (
        "a {colour} {shape}",
        "a {colour} {shape}.",
        "a photo of a {colour} {shape}.",
        "a photo of a {size} {colour} {shape} on a {background} background.",
        "a {size} {colour} {shape} on a {background} background",
        "an image of a {colour} {shape}.",
        "a {colour} {shape} {where}.",
        "a {shape} coloured {colour}.",
        "{colour} {shape} on {background}",
        "a photo of a {shape}.",
        "a {size} {shape}.",
    ),
    "sketch": (
        "a sketch of a {shape}.",
        "a pencil drawing of a {shape}",
        "a black and white sketch of a {size} {shape}.",
        "a line drawing of a {shape} {where}.",
    ),
    "rendition": (
        "a {pattern} {shape}",
        "a drawing of a {pattern} {colour} and {colour2} {shape}.",
        "a {colour} and {colour2} {shape} on a {background} background.",
        "an artwork of a {shape}.",
    ),
    "clutter": (
        "a {colour} {shape} among other shapes.",
        "a {colour} {shape} partly hidden behind smaller shapes",
        "a photo of a {colour} {shape} in a cluttered scene.",
    ),
    "pose": (
        "a rotated {colour} {shape}.",
        "a {size} tilted {colour} {shape} {where}",
        "a photo of a {colour} {shape} upside down or sideways.",
    ),
}

#: Which template set each domain uses.
STYLE_OF_DOMAIN: dict[str, str] = {
    "id": "filled",
    "reproduction": "filled",
    "sketch": "sketch",
    "rendition": "rendition",
    "clutter": "clutter",
    "pose": "pose",
}

_WHERE = {"centre": "in the centre", "top": "at the top", "bottom": "at the bottom"}


def where_phrase(position: str) -> str:
    """Prepositional phrase for a position word (``"top left"`` -> ``"at the top left"``)."""
    return _WHERE.get(position, f"{'at the' if ' ' in position else 'on the'} {position}")


def _article(m: re.Match[str]) -> str:
    word = "an" if m.group(2).lower() in "aeiou" else "a"
    return f"{word.capitalize() if m.group(1)[0].isupper() else word} {m.group(2)}"


def tidy(text: str) -> str:
    """Collapse whitespace, drop spaces before punctuation and fix the indefinite article (a/an)."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r" ([.,])", r"\1", text)
    return re.sub(r"\b([Aa]n?) ([A-Za-z])", _article, text)


def caption(domain: str, attrs: dict[str, Any], rng: np.random.Generator) -> str:
    """A caption for an image of ``domain`` described by ``attrs``, template chosen with ``rng``."""
    templates = TEMPLATES[STYLE_OF_DOMAIN[domain]]
    template = templates[int(rng.integers(len(templates)))]
    fields = {**attrs, "where": where_phrase(attrs.get("position", "centre"))}
    return tidy(template.format(**fields))


def questions(attrs: dict[str, Any]) -> list[tuple[str, str]]:
    """VQA-style (question, answer) pairs about a single-object image."""
    qa = [("What shape is in the image?", attrs["shape"])]
    if attrs.get("colour"):
        qa.append((f"What colour is the {attrs['shape']}?", attrs["colour"]))
    qa.append((f"Where is the {attrs['shape']}?", where_phrase(attrs.get("position", "centre"))))
    return qa
