"""``vlmrobust build-mcq``: build MCQ benchmark files for ImageNet val and its shifts.

Example::

    vlmrobust build-mcq --set imagenet-val=/data/imagenet/val --set imagenet-r=/data/imagenet-r \\
        --val-label-file /data/clean_validation.csv \\
        --strategy random --strategy hierarchy --out benchmarks/mcq

writes ``<out>/<eval_set>.<strategy>.k5.seed0.jsonl`` and ``.stats.json`` for every set, including
ImageNet val restricted to each shift's classes (its paired ID set) unless ``--no-paired-id``. ImageNet
val uses the clean labels of Kisel et al. by default (images without a valid label excluded; distractors
avoid every correct label); ``--val-labels original`` uses the official single labels. ``--strategy
confusion`` takes each image's most confident wrong classes of a selection model already evaluated by
``vlmrobust eval`` (``--confusion-db``, ``--confusion-model``, ``--confusion-protocol``; holistic §IX)::

    vlmrobust build-mcq --set imagenet-d-background=/data/imagenet-d/background --strategy confusion \
        --num-options 4 --num-questions 0 --confusion-db outputs/eval/results.db \
        --confusion-model open_clip:ViT-L-14-336@openai --out benchmarks/mcq
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from vlmrobust.core.errors import CLIError, cli_main
from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.imagenet import ImageSet, id_counterpart, read_imagenet_val
from vlmrobust.data.mcq.builder import STRATEGIES, build_mcq
from vlmrobust.data.mcq.centroids import centroid_distance, class_centroids
from vlmrobust.data.mcq.confusion import ConfusionSource, read_rankings
from vlmrobust.data.mcq.io import save_benchmark
from vlmrobust.data.registry import get_reader, list_evalsets

#: The eval sets read from a folder (the ImageNet family of ``vlmrobust.data.registry``).
SET_NAMES: tuple[str, ...] = tuple(e.name for e in list_evalsets("imagenet"))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vlmrobust build-mcq", description=__doc__.splitlines()[0])
    p.add_argument(
        "--set",
        action="append",
        required=True,
        metavar="NAME=ROOT",
        help=f"an eval set and its folder; NAME in {', '.join(SET_NAMES)} (repeatable)",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument(
        "--strategy",
        action="append",
        choices=STRATEGIES,
        help="distractor strategy (repeatable; default hierarchy)",
    )
    p.add_argument("--num-options", type=int, default=5, help="K, options per question")
    p.add_argument("--num-questions", type=int, default=5000, help="N per eval set (0 = every image)")
    p.add_argument("--seed", type=int, default=0, help="seeds image selection, distractors and option order")
    p.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl", help="benchmark file format")
    p.add_argument(
        "--val-labels",
        choices=("original", "clean", "real"),
        default="clean",
        help="label source of ImageNet val (default clean: Kisel et al., as in DESIGN.md)",
    )
    p.add_argument("--val-label-file", type=Path, help="clean_validation.csv or real.json")
    p.add_argument(
        "--no-paired-id", action="store_true", help="do not build val restricted to each shift's classes"
    )
    p.add_argument("--features", type=Path, help="visual: folder of <eval_set>.npz with sample_ids, features")
    p.add_argument(
        "--metric", choices=("cosine", "euclidean"), default="cosine", help="visual centroid metric"
    )
    p.add_argument("--on-error", choices=("raise", "skip"), default="raise", help="bad input: raise or skip")
    p.add_argument(
        "--confusion-db", help="confusion: results store holding the selection model's predictions"
    )
    p.add_argument("--confusion-model", help="confusion: the selection model's name in that store")
    p.add_argument(
        "--confusion-protocol", default="zeroshot/single", help="confusion: its classification protocol"
    )
    p.add_argument("--confusion-run", help="confusion: its run key (default: the only one)")
    return p


def _read_sets(args: argparse.Namespace) -> list[ImageSet]:
    roots: dict[str, str] = {}
    for item in args.set:
        name, sep, root = item.partition("=")
        if not sep or not root:
            raise CLIError(f"--set takes NAME=ROOT, got {item!r}")
        if name not in SET_NAMES:
            raise CLIError(f"unknown eval set {name!r}. {did_you_mean(name, SET_NAMES, 'sets')}")
        roots[name] = root
    sets = []
    val = None
    if "imagenet-val" in roots:
        if args.val_labels != "original" and args.val_label_file is None:
            raise CLIError(
                f"ImageNet val uses {args.val_labels} labels (default: clean, Kisel et al.); pass "
                "--val-label-file clean_validation.csv (or real.json), or --val-labels original"
            )
        val = read_imagenet_val(
            roots.pop("imagenet-val"), labels=args.val_labels, label_file=args.val_label_file,
            on_error=args.on_error,
        )  # fmt: skip
        sets.append(val)
    for name, root in roots.items():
        shift = get_reader(name)(root, on_error=args.on_error)
        if val is not None and not args.no_paired_id and not shift.classes.is_full:
            sets.append(id_counterpart(val, shift))
        sets.append(shift)
    return sets


def _visual_distance(image_set: ImageSet, folder: Path | None, metric: str) -> np.ndarray:
    if folder is None:
        raise CLIError("--strategy visual needs --features FOLDER (<eval_set>.npz per set)")
    path = folder / f"{image_set.name}.npz"
    if not path.is_file() and image_set.id_set is None and "-on-" in image_set.name:
        path = folder / f"{image_set.name.split('-on-')[0]}.npz"  # val features serve the restricted val sets
    if not path.is_file():
        raise CLIError(f"{path}: no features file for {image_set.name}")
    with np.load(path) as data:
        ids, feats = [str(s) for s in data["sample_ids"]], data["features"]
    row = {sid: i for i, sid in enumerate(ids)}
    missing = [s.sample_id for s in image_set if s.sample_id not in row]
    if missing:
        raise CLIError(f"{path}: no features for {len(missing)} sample(s), e.g. {missing[0]!r}")
    rows = [row[s.sample_id] for s in image_set]
    centroids = class_centroids(feats[rows], [s.label for s in image_set], len(image_set.classes))
    return centroid_distance(centroids, metric)  # type: ignore[arg-type]


@cli_main("build-mcq")
def main(argv: list[str]) -> int:
    """Entry point of ``vlmrobust build-mcq``; returns the exit code (2 on bad input, one line)."""
    args = _parser().parse_args(argv)
    strategies = args.strategy or ["hierarchy"]
    os.makedirs(args.out, exist_ok=True)
    source = None
    if "confusion" in strategies:
        if not args.confusion_db or not args.confusion_model:
            raise CLIError("--strategy confusion needs --confusion-db RESULTS.db and --confusion-model NAME")
        source = ConfusionSource(
            args.confusion_db, args.confusion_model, args.confusion_protocol, args.confusion_run
        )
    for image_set in _read_sets(args):
        visual = _visual_distance(image_set, args.features, args.metric) if "visual" in strategies else None
        for strategy in strategies:
            rankings = read_rankings(source, image_set.name) if strategy == "confusion" else None
            bench = build_mcq(
                image_set, strategy, num_options=args.num_options, num_questions=args.num_questions or None,
                seed=args.seed, centroids_distance=visual, rankings=rankings,
            )  # fmt: skip
            path, _ = save_benchmark(list(bench.questions), bench.stats, args.out, args.format)
            print(
                f"{image_set.name} {strategy}: {len(bench.questions)} questions -> {path} "
                f"(tree distance {bench.stats['mean_tree_distance']:.2f} vs random "
                f"{bench.stats['random_tree_distance']:.2f})"
            )
    return 0
