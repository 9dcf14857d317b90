"""ARO's COCO-Order and Flickr30k-Order sets: every caption of a BLIP test file against four word-order
shuffles of itself.

As ``COCO_Order`` / ``Flickr30k_Order`` of mertyg/vision-language-models-are-bows, one test case per caption
(in file order: image by image, caption by caption), options ``order_options(caption)`` =
``[pre_caption(c), pre_caption(f1(c)), ..., pre_caption(f4(c))]``, the original (correct) first; scoring is
precision@1 with ties counted right. The shuffles are drawn, not stored: here from
``numpy.random.default_rng([seed, i, j])`` for caption ``j`` of the file's item ``i``, so a test case does
not depend on the others (nor on skipped images); the official code draws from global generators after
``seed_all(1)``, so the options follow the official distribution, not its exact strings.
"""

from __future__ import annotations

import os
from typing import Literal

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.captions.retrieval import read_blip_test
from vlmrobust.data.choice import CaptionChoice, CaptionChoiceDataset
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.imagenet.samples import OnError
from vlmrobust.data.perturb.order import order_options
from vlmrobust.data.perturb.tagging import SpacyTagger, Tagger

OrderDataset = Literal["coco", "flickr30k"]
#: Eval-set name of each Order set.
ORDER_SETS: dict[str, str] = {"coco": "aro-coco-order", "flickr30k": "aro-flickr30k-order"}
NUM_ORDER_OPTIONS = 5


def read_order(
    json_path: str | os.PathLike[str],
    image_root: str | os.PathLike[str],
    dataset: OrderDataset,
    seed: int = 1,
    tagger: Tagger | None = None,
    *,
    on_missing: OnError = "raise",
) -> CaptionChoiceDataset:
    """Build ARO's COCO-/Flickr30k-Order set from a BLIP test file: one five-option record per caption.

    Record ``(i, j)`` (caption ``j`` of item ``i``) has sample id ``f"{image}#{j}"``, the item's image,
    ``texts = order_options(caption, tagger, [seed, i, j])`` and ``answer`` 0; it depends on nothing else.

    Args:
        json_path: ``coco_karpathy_test.json`` or ``flickr30k_test.json`` (BLIP format).
        image_root: folder the file's ``image`` paths are relative to (``COCO_ROOT`` / ``FLICKR_ROOT``).
        dataset: ``coco`` or ``flickr30k`` (names the set ``aro-coco-order`` / ``aro-flickr30k-order``).
        seed: seed of the shuffles (ARO seeds with 1).
        tagger: part-of-speech tagger of the noun/adjective shuffles; default spaCy ``en_core_web_sm``
            (``SpacyTagger``, as ARO), which needs the ``spacy`` extra.
        on_missing: a missing image: ``raise``, or ``skip`` its captions (counted and logged).

    Returns:
        The ``captions`` dataset (benchmark ``order``, 5 options).

    Raises:
        ValueError: an unknown ``dataset``.
        DatasetFormatError: a malformed BLIP file, or a missing image under ``on_missing="raise"``.
        MissingDependencyError: the default tagger without spaCy or its model.
    """
    if dataset not in ORDER_SETS:
        raise ValueError(
            f"unknown Order dataset {dataset!r}. {did_you_mean(dataset, ORDER_SETS, 'datasets')}"
        )
    tagger = SpacyTagger() if tagger is None else tagger
    blip = read_blip_test(json_path, image_root, on_missing=on_missing)
    records = [
        CaptionChoice(
            f"{item.sample_id}#{j}", item.image, tuple(order_options(caption, tagger, [seed, i, j])), 0
        )
        for item, i in zip(blip.records, blip.indices, strict=True)
        for j, caption in enumerate(item.captions)
    ]
    info = EvalSetInfo(ORDER_SETS[dataset], (), (), None, len(records), task="captions",
                       num_options=NUM_ORDER_OPTIONS, benchmark="order")  # fmt: skip
    return CaptionChoiceDataset(records, info, skipped=blip.skipped)
