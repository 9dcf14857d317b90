"""``vlmrobust agreements``: the erroneous-agreement analysis (clip_erroneous_agreements §3–4).

    vlmrobust agreements --config configs/eval/agreements_world.yaml
    vlmrobust agreements --config configs/eval/agreements_whatsup.yaml --encoder.spec open_clip:ViT-L-14-336@openai

For every paired set of ``data`` (What'sUp: left/right, on/under … images of one object pair; MMVP:
consecutive rows), the images are embedded by ``encoder`` and each pair's cosine is computed; then every
(run, model, protocol) stored with per-sample predictions on that set in ``results_db`` (a CLIP-style
model by caption scores, a VLM on the same encoder by likelihood or generation — whatever ``vlmrobust
eval`` wrote) has its pair accuracy binned by that cosine. Written to ``out``: ``pairs.csv`` (one row per
pair and model), ``agreements.csv`` (one row per bin and model, with Clopper–Pearson intervals),
``similarity.csv`` (mean cosine per set and pair kind, the paper's Table 1 row) and ``agreements.png``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from vlmrobust.core.errors import CLIError, cli_main
from vlmrobust.core.store import ResultsStore
from vlmrobust.eval.commands import StagedOutputs
from vlmrobust.eval.metrics.agreements import (
    PAIRED_BENCHMARKS,
    benchmark_pairs,
    binned_pair_accuracy,
    pair_cosines,
)
from vlmrobust.eval.models import ModelEntry, load_model
from vlmrobust.eval.runner import EvalData

PAIR_COLUMNS = [
    "eval_set",
    "kind",
    "first",
    "second",
    "cosine",
    "run",
    "model",
    "protocol",
    "step",
    "correct",
]
BIN_COLUMNS = ["eval_set", "run", "model", "protocol", "step", "low", "high", "pairs", "correct", "accuracy",
               "ci_low", "ci_high", "mean_cosine"]  # fmt: skip


def embed_images(encoder: Any, dataset: Any, batch_size: int) -> np.ndarray:
    """Unit-norm image embeddings [N, D] of every item of a ``captions`` dataset under ``encoder``."""
    dataset.transform = encoder.preprocess
    out = []
    with torch.inference_mode():
        for start in range(0, len(dataset), batch_size):
            images = torch.stack(
                [dataset[i]["image"] for i in range(start, min(start + batch_size, len(dataset)))]
            )
            out.append(encoder.encode_image(images.to(encoder.device), normalize=True).float().cpu())
    return torch.cat(out).numpy()


def pair_table(
    info: Any, dataset: Any, cosines: np.ndarray, pairs: Sequence[tuple[int, int, str]], store: ResultsStore,
    run: str | None,
) -> pd.DataFrame:  # fmt: skip
    """One row per (pair, stored run/model/protocol/step with both members predicted)."""
    filters: dict[str, Any] = {"eval_set": info.name}
    if run is not None:
        filters["run"] = run
    records = store.predictions(**filters)
    rows = []
    ids = [dataset.sample_id(i) for i in range(len(dataset))]
    for (r, model, protocol, step), group in records.groupby(["run", "model", "protocol", "step"], sort=True):
        correct = dict(zip(group["sample_id"], group["correct"], strict=True))
        for (i, j, kind), cos in zip(pairs, cosines, strict=True):
            if ids[i] in correct and ids[j] in correct:
                both = bool(correct[ids[i]] and correct[ids[j]])
                rows.append(
                    [info.name, kind, ids[i], ids[j], float(cos), r, model, protocol, int(step), both]
                )
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def bin_table(pairs: pd.DataFrame, edges: Sequence[float]) -> pd.DataFrame:
    """``binned_pair_accuracy`` of every (set, run, model, protocol, step) in ``pairs``."""
    rows = []
    keys = ["eval_set", "run", "model", "protocol", "step"]
    for key, group in pairs.groupby(keys, sort=True):
        for b in binned_pair_accuracy(group["cosine"].to_numpy(), group["correct"].to_numpy(), edges):
            rows.append(
                [*key, b.low, b.high, b.pairs, b.correct, b.accuracy, b.ci_low, b.ci_high, b.mean_cosine]
            )
    return pd.DataFrame(rows, columns=BIN_COLUMNS)


def quantile_edges(cosines: np.ndarray, bins: int) -> list[float]:
    """``bins`` equal-count bins over the pooled cosines (repeated edges merged)."""
    edges = np.unique(np.quantile(cosines, np.linspace(0.0, 1.0, bins + 1)))
    if len(edges) < 2:
        edges = np.asarray([edges[0] - 1e-9, edges[0] + 1e-9])
    return [float(e) for e in edges]


def plot_agreements(bins: pd.DataFrame, path: Path) -> None:
    """One panel per eval set: pair accuracy (with intervals) against the bins' mean cosine, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vlmrobust.eval.plots import save_figure

    sets = sorted(bins["eval_set"].unique())
    fig, axes = plt.subplots(1, len(sets), figsize=(5 * len(sets), 4), squeeze=False)
    for ax, name in zip(axes[0], sets, strict=True):
        part = bins[(bins["eval_set"] == name) & (bins["pairs"] > 0)]
        for (model, protocol), g in part.groupby(["model", "protocol"], sort=True):
            err = np.vstack([g["accuracy"] - g["ci_low"], g["ci_high"] - g["accuracy"]])
            ax.errorbar(
                g["mean_cosine"],
                g["accuracy"],
                yerr=err,
                marker="o",
                capsize=3,
                label=f"{model} · {protocol}",
            )
        ax.set(title=name, xlabel="image-pair cosine (encoder)", ylabel="pair accuracy", ylim=(-0.02, 1.02))
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def build_parser() -> Any:
    """The jsonargparse parser of ``vlmrobust agreements``."""
    from jsonargparse import ActionConfigFile, ArgumentParser
    from lightning.pytorch import LightningDataModule

    parser = ArgumentParser(
        prog="vlmrobust agreements", description=__doc__.split("\n\n")[0], exit_on_error=False
    )
    parser.add_argument(
        "--config", action=ActionConfigFile, help="YAML config (configs/eval/agreements/*.yaml)"
    )
    parser.add_argument(
        "--results_db", type=str, required=True, help="results store with the models' predictions"
    )
    parser.add_argument("--run", type=str | None, default=None, help="only this run key (default: every run)")
    parser.add_argument("--encoder", type=ModelEntry, required=True, help="image encoder of the pair cosines")
    parser.add_subclass_arguments(LightningDataModule, "data", help="DataModule serving the paired sets")
    parser.add_argument("--edges", type=list[float] | None, default=None, help="cosine bin edges")
    parser.add_argument("--bins", type=int, default=4, help="equal-count bins when no edges are given")
    parser.add_argument("--batch_size", type=int, default=64, help="images per encoder forward")
    parser.add_argument("--out", type=str, default="outputs/agreements", help="output folder")
    return parser


def run_from_args(argv: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Parse ``argv``, run the analysis, write the outputs; return the three tables."""
    parser = build_parser()
    cfg = parser.parse_args(list(argv))
    init = parser.instantiate_classes(cfg)
    if not Path(init.results_db).is_file():
        raise CLIError(f"{init.results_db}: no results store; run `vlmrobust eval` on the paired sets first")
    store = ResultsStore(init.results_db)
    encoder = load_model(init.encoder, torch.device("cpu"), torch.float32)
    tables, similarity = [], []
    for info, dataset in EvalData(init.data).pairs:
        if info.benchmark not in PAIRED_BENCHMARKS:
            continue
        meta = [dataset.records[i].meta for i in range(len(dataset))]
        pairs = benchmark_pairs(info.benchmark, meta)
        cosines = pair_cosines(embed_images(encoder, dataset, init.batch_size), pairs)
        for kind in sorted({p[2] for p in pairs}):
            sel = np.asarray([p[2] == kind for p in pairs])
            similarity.append([info.name, kind, int(sel.sum()), float(cosines[sel].mean())])
        tables.append(pair_table(info, dataset, cosines, pairs, store, init.run))
    if not tables:
        raise CLIError(f"no paired set ({', '.join(PAIRED_BENCHMARKS)}) in the data; nothing to analyse")
    pairs_df = pd.concat(tables, ignore_index=True)
    if pairs_df.empty:
        raise CLIError(
            f"{init.results_db}: no stored predictions on {', '.join(sorted({t for t, *_ in similarity}))}"
        )
    edges = init.edges or quantile_edges(pairs_df["cosine"].to_numpy(), init.bins)
    bins = bin_table(pairs_df, edges)
    sim_df = pd.DataFrame(similarity, columns=["eval_set", "kind", "pairs", "mean_cosine"])
    with StagedOutputs(init.out) as out:
        pairs_df.to_csv(out.path("pairs.csv"), index=False)
        bins.to_csv(out.path("agreements.csv"), index=False)
        sim_df.to_csv(out.path("similarity.csv"), index=False)
        plot_agreements(bins, out.path("agreements.png"))
    print(sim_df.to_string(index=False))
    print(bins[bins["pairs"] > 0].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"-> {Path(init.out)}/{{pairs,agreements,similarity}}.csv, agreements.png")
    return {"pairs": pairs_df, "bins": bins, "similarity": sim_df}


@cli_main("agreements")
def main(argv: list[str]) -> int:
    """``vlmrobust agreements`` entry point."""
    from jsonargparse import ArgumentError

    try:
        run_from_args(argv)
    except ArgumentError as err:
        raise CLIError(str(err).strip()) from err
    return 0


if __name__ == "__main__":
    sys.exit(main())
