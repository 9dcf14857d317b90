"""Model-confusion distractors (holistic_clip_robustness §IX): per image, the most confident wrong classes of a
category-selection model, read from that model's per-sample predictions in the results store.

Any model that ``vlmrobust eval`` (or a training run) has evaluated on the set by classification can serve:
its stored records keep the classes it ranked highest (``extra["ranking"]`` when the protocol stored a
deeper ranking, else ``extra["top5"]``), by the set's own class indices. The distractors of an image are
the first K−1 of those that are not a correct label of the image (every label of a multi-label image).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

#: Rankings by sample id: the classes a selection model scored highest for each image, best first.
Rankings = Mapping[str, Sequence[int]]


@dataclass(frozen=True)
class ConfusionSource:
    """Where the selection model's per-sample rankings are stored.

    Attributes:
        results_db: the results store holding its per-sample predictions.
        model: its model name in the store.
        protocol: the classification protocol it was evaluated by (e.g. ``zeroshot/single``).
        run: the run key (``None``: the only run holding that model, protocol and set).
        step: the step key (``-1``: not tied to a training step).
    """

    results_db: str
    model: str
    protocol: str = "zeroshot/single"
    run: str | None = None
    step: int = -1


def read_rankings(source: ConfusionSource, eval_set: str) -> dict[str, list[int]]:
    """The selection model's ranking of every stored sample of ``eval_set``.

    Raises:
        FileNotFoundError: no results store at ``source.results_db``.
        ValueError: no predictions of that model / protocol / set (or several runs and no ``run``), or a
            record without a stored ranking; the message names what was looked for.
    """
    from vlmrobust.core.store import ResultsStore

    if not os.path.isfile(source.results_db):
        raise FileNotFoundError(f"{source.results_db}: no results store to read confusion rankings from")
    filters = {"model": source.model, "eval_set": eval_set, "protocol": source.protocol, "step": source.step}
    if source.run is not None:
        filters["run"] = source.run
    records = ResultsStore(source.results_db).predictions(**filters)
    what = f"model {source.model!r}, protocol {source.protocol!r}, eval set {eval_set!r}, step {source.step}"
    if records.empty:
        raise ValueError(
            f"{source.results_db}: no stored predictions of {what}; evaluate the selection model first"
        )
    runs = sorted(set(records["run"]))
    if len(runs) > 1:
        raise ValueError(
            f"{source.results_db}: {what} is stored under several runs {runs}; choose one with run="
        )
    out = {}
    for sample_id, extra in zip(records["sample_id"], records["extra"], strict=True):
        ranking = (extra or {}).get("ranking", (extra or {}).get("top5"))
        if ranking is None:
            raise ValueError(
                f"{source.results_db}: the record of {sample_id!r} ({what}) stores no class ranking"
            )
        out[str(sample_id)] = [int(c) for c in ranking]
    return out


def confusion_distractors(ranking: Sequence[int], exclude: Collection[int], k: int, where: str) -> list[int]:
    """The first ``k`` classes of ``ranking`` outside ``exclude`` (the image's correct labels).

    Raises:
        ValueError: the ranking holds fewer than ``k`` wrong classes (``where`` names the sample); store a
            deeper ranking (``ZeroShotClassification(rank_depth=...)``) for many labels or options.
    """
    taken = set(exclude)
    out = [c for c in dict.fromkeys(ranking) if c not in taken][:k]
    if len(out) < k:
        raise ValueError(
            f"{where}: the selection model's stored ranking {list(ranking)} has {len(out)} wrong classes, "
            f"{k} distractors needed; evaluate it with a deeper ranking (ZeroShotClassification(rank_depth=...))"
        )
    return out
