"""``vlmrobust quickstart``: the embedded end-to-end robustness study on the procedural world.

Trains a family of tiny CLIP models (training-set size x seed) with the same LightningModule,
DataModule, ``RobustnessCallback`` and W&B logger a real ``vlmrobust fit`` run uses, evaluates each
zero-shot on the ID domain and every shift, fits probit "accuracy on the line" lines over the family
and writes ``results.db``, ``effective_robustness.csv``, ``lines.json`` and ``robustness_lines.png``.
Runs already finished in ``results.db`` are skipped, so a killed quickstart resumes where it stopped.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vlmrobust.core.errors import CLIError, cli_main
from vlmrobust.core.robustness import RobustnessInputError, RobustnessReport, fit_robustness
from vlmrobust.core.store import ResultsStore
from vlmrobust.eval.commands.line import write_outputs
from vlmrobust.eval.plots import plot_robustness_grid

ID_SET = "world/id"


@dataclass(frozen=True)
class QuickstartConfig:
    """Settings of the quickstart study; every field is a ``vlmrobust quickstart`` flag."""

    out: Path = Path("outputs/quickstart")  # output directory (results.db, plots, CSV, wandb/)
    train_sizes: tuple[int, ...] = (250, 1000, 4000)  # training-set sizes of the family
    seeds: tuple[int, ...] = (0, 1)  # model-init and data-order seeds; runs = train_sizes x seeds
    max_steps: int = 500  # optimisation steps per run (batch 64)
    eval_size: int = 500  # images per eval set (ID and each shift)
    world_seed: int = 0  # seed of the procedural world (the same world for every run)
    model: str = "open_clip:vlmrobust-tiny-clip"  # model spec of every run
    lr: float = 2e-3  # peak learning rate
    transform: str = "probit"  # accuracy transform of the robustness lines
    shifts: tuple[str, ...] = field(default=())  # shifts to evaluate; empty = every shift of the world


def run_name(train_size: int, seed: int) -> str:
    """Results-store and W&B name of one run of the family."""
    return f"tinyclip-n{train_size}-s{seed}"


def train_one(cfg: QuickstartConfig, train_size: int, seed: int) -> None:
    """Train and evaluate one tiny CLIP run with Lightning, logging to W&B and the results store."""
    import lightning.pytorch as pl

    from vlmrobust.data.datamodules import WorldDataModule
    from vlmrobust.eval.robustness_callback import RobustnessCallback
    from vlmrobust.eval.tracking import AutoWandbLogger
    from vlmrobust.train.clip_finetune import CLIPFineTune

    name = run_name(train_size, seed)
    pl.seed_everything(seed, verbose=False)
    shift_kwargs = {"shifts": list(cfg.shifts)} if cfg.shifts else {}
    data = WorldDataModule(
        seed=cfg.world_seed, train_size=train_size, eval_size=cfg.eval_size, batch_size=64, **shift_kwargs
    )
    module = CLIPFineTune(
        model=cfg.model, lr=cfg.lr, warmup_steps=max(1, cfg.max_steps // 10), model_seed=seed
    )
    logger = AutoWandbLogger(
        project="vlmrobust-quickstart",
        name=name,
        save_dir=str(cfg.out),
        group="quickstart",
        config={"train_size": train_size, "seed": seed, "world_seed": cfg.world_seed},
    )
    callback = RobustnessCallback(
        results_db=str(cfg.out / "results.db"), run_name=name, transform=cfg.transform
    )
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=cfg.max_steps,
        val_check_interval=cfg.max_steps,
        check_val_every_n_epoch=None,
        num_sanity_val_steps=0,
        logger=logger,
        callbacks=[callback],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=10,
        default_root_dir=str(cfg.out),
    )
    trainer.fit(module, datamodule=data)
    logger.experiment.finish()


def finished_runs(store_path: Path, max_steps: int) -> set[str]:
    """Runs whose final-step evaluation is already in the results store."""
    if not store_path.exists():
        return set()
    cells = ResultsStore(store_path).cells(step=max_steps)
    return set(cells["run"]) if len(cells) else set()


def summarise(cfg: QuickstartConfig, runs: Sequence[str]) -> RobustnessReport:
    """Fit the robustness lines over the family and write the CSV, JSON and plot."""
    wide = ResultsStore(cfg.out / "results.db").wide(metric="top1", protocol="zeroshot/dataset", step="last")
    wide = wide[wide["model"].isin(runs)]
    oods = [c for c in wide.columns if c not in ("model", ID_SET)]
    report = fit_robustness(wide, id_col=ID_SET, ood_cols=oods, baseline=list(runs), transform=cfg.transform)
    write_outputs(report, cfg.out, n_boot=1000, seed=0, annotate=True)
    plot_robustness_grid(report, cfg.out / "robustness_lines.png", annotate=True)
    return report


def _quiet() -> None:
    """Keep the console to the quickstart's own progress lines (W&B and Lightning still log to files)."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    os.environ.setdefault("WANDB_SILENT", "true")
    for message in (
        ".*LeafSpec.*",
        ".*smaller than the logging interval.*",
        ".*does not have many workers.*",
    ):
        warnings.filterwarnings("ignore", message=message)


def run(cfg: QuickstartConfig) -> RobustnessReport:
    """Train every missing run of the family, then fit and write the robustness lines."""
    _quiet()
    cfg.out.mkdir(parents=True, exist_ok=True)
    plan = [(n, s) for n in cfg.train_sizes for s in cfg.seeds]
    done = finished_runs(cfg.out / "results.db", cfg.max_steps)
    for i, (n, s) in enumerate(plan, 1):
        name = run_name(n, s)
        if name in done:
            print(f"[{i}/{len(plan)}] {name}: already in results.db, skipped")
            continue
        start = time.perf_counter()
        train_one(cfg, n, s)
        print(f"[{i}/{len(plan)}] {name}: trained and evaluated in {time.perf_counter() - start:.0f} s")
    return summarise(cfg, [run_name(n, s) for n, s in plan])


def _print_summary(cfg: QuickstartConfig, report: RobustnessReport) -> None:
    print("\nRobustness lines (probit) fitted over the family:")
    print(f"  {'shift':<22}{'slope':>8}{'intercept':>11}{'R2':>7}{'n':>4}")
    for ood, line in report.lines.items():
        print(f"  {ood:<22}{line.slope:>8.3f}{line.intercept:>11.3f}{line.r2:>7.3f}{line.n:>4}")
    acc = report.effective.pivot(index="model", columns="ood", values="ood_acc")
    acc.insert(0, ID_SET, report.effective.groupby("model")["id_acc"].first())
    acc.columns.name = None
    print("\nZero-shot accuracy per run:")
    print(acc.round(3).to_string())
    print(
        f"\nWritten to {cfg.out}/: results.db, effective_robustness.csv, lines.json, robustness_lines.png "
        "(one panel per shift; line_<shift>.png each), wandb/ (one run per training run)"
    )


def _parse(argv: Sequence[str] | None) -> QuickstartConfig:
    d = QuickstartConfig()
    p = argparse.ArgumentParser(prog="vlmrobust quickstart", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=d.out, help="output directory")
    p.add_argument(
        "--train-sizes", type=int, nargs="+", default=list(d.train_sizes), help="training-set sizes"
    )
    p.add_argument("--seeds", type=int, nargs="+", default=list(d.seeds), help="seeds per training-set size")
    p.add_argument("--max-steps", type=int, default=d.max_steps, help="steps per run")
    p.add_argument("--eval-size", type=int, default=d.eval_size, help="images per eval set")
    p.add_argument("--world-seed", type=int, default=d.world_seed, help="procedural world seed")
    p.add_argument("--model", default=d.model, help="model spec of every run")
    p.add_argument("--lr", type=float, default=d.lr, help="peak learning rate")
    p.add_argument("--transform", choices=["probit", "logit", "linear"], default=d.transform)
    p.add_argument("--shifts", nargs="*", default=list(d.shifts), help="shifts to evaluate (default: all)")
    a = p.parse_args(argv)
    if len(a.train_sizes) * len(a.seeds) < 2:
        p.error("a robustness line needs at least 2 runs (train sizes x seeds)")
    return QuickstartConfig(
        out=a.out,
        train_sizes=tuple(a.train_sizes),
        seeds=tuple(a.seeds),
        max_steps=a.max_steps,
        eval_size=a.eval_size,
        world_seed=a.world_seed,
        model=a.model,
        lr=a.lr,
        transform=a.transform,
        shifts=tuple(a.shifts),
    )


@cli_main("quickstart")
def main(argv: list[str]) -> int:
    """``vlmrobust quickstart``; returns the exit code (2 on bad input, one message)."""
    cfg = _parse(argv)
    try:
        report = run(cfg)
    except RobustnessInputError as err:
        raise CLIError(
            f"cannot fit the robustness lines: {err}\n"
            f"The trained runs are kept in {cfg.out / 'results.db'}; train a larger family "
            "(more --train-sizes/--seeds or --max-steps) and run again to resume."
        ) from err
    _print_summary(cfg, report)
    return 0
