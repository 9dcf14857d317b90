"""``vlmrobust quickstart``: the embedded end-to-end robustness study on the procedural world.

Trains a family of tiny CLIP models (training-set size x seed) with the same LightningModule,
DataModule, ``RobustnessCallback`` and W&B logger a real ``vlmrobust fit`` run uses, evaluates each
zero-shot on the ID domain and every shift, fits probit "accuracy on the line" lines over the family
and writes ``results.db``, ``effective_robustness.csv``, ``lines.json`` and ``robustness_lines.png``.
Each run is stored under ``<name>-<config hash>`` (``vlmrobust.core.runs``) of its own settings (model,
learning rate, steps, world seed, sizes, seed): a run already finished in ``results.db`` with the same
settings is reused, so a killed quickstart resumes where it stopped, and changing any setting trains and
reports new runs (the message names the settings that differ from the stored runs of that name).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vlmrobust.core.errors import CLIError, cli_main
from vlmrobust.core.robustness import RobustnessInputError, RobustnessReport, fit_robustness
from vlmrobust.core.runs import run_key
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
    """Name of one run of the family (its store key adds the config hash)."""
    return f"tinyclip-n{train_size}-s{seed}"


def run_config(cfg: QuickstartConfig, train_size: int, seed: int) -> dict[str, Any]:
    """The settings that produce one run's numbers: its identity in the results store. The output folder
    and the line transform (it only changes the fitted lines) are left out."""
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("out", "transform", "train_sizes", "seeds")}
    return {
        "recipe": "quickstart/tinyclip",
        **settings,
        "train_size": train_size,
        "seed": seed,
        "batch_size": 64,
    }


def train_one(cfg: QuickstartConfig, train_size: int, seed: int) -> None:
    """Train and evaluate one tiny CLIP run with Lightning, logging to W&B and the results store."""
    import lightning.pytorch as pl

    from vlmrobust.data.datamodules import WorldDataModule
    from vlmrobust.eval.robustness_callback import RobustnessCallback
    from vlmrobust.eval.tracking import AutoWandbLogger
    from vlmrobust.train.clip_finetune import CLIPFineTune

    name = run_name(train_size, seed)
    config = run_config(cfg, train_size, seed)
    pl.seed_everything(seed, verbose=False)
    shift_kwargs = {"shifts": list(cfg.shifts)} if cfg.shifts else {}
    data = WorldDataModule(
        seed=cfg.world_seed, train_size=train_size, eval_size=cfg.eval_size, batch_size=64, **shift_kwargs
    )
    module = CLIPFineTune(
        model=cfg.model, lr=cfg.lr, warmup_steps=max(1, cfg.max_steps // 10), model_seed=seed
    )
    logger = AutoWandbLogger(
        project="vlmrobust-quickstart", name=run_key(name, config), save_dir=str(cfg.out), group="quickstart",
        config=config,
    )  # fmt: skip
    callback = RobustnessCallback(
        results_db=str(cfg.out / "results.db"), run_name=name, transform=cfg.transform, print_table=False
    )
    callback.bind_config(config)
    trainer = pl.Trainer(
        accelerator="auto",
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
    """Run keys whose final-step evaluation is already in the results store."""
    if not store_path.exists():
        return set()
    cells = ResultsStore(store_path).cells(step=max_steps)
    return set(cells["run"]) if len(cells) else set()


def summarise(cfg: QuickstartConfig, runs: dict[str, str]) -> RobustnessReport:
    """Fit the robustness lines over the family (``runs``: run key -> name) and write the CSV, JSON and plot."""
    store = ResultsStore(cfg.out / "results.db")
    cells = store.cells(metric="top1", protocol="zeroshot/dataset", step=cfg.max_steps, run=list(runs))
    wide = cells.pivot_table(index="run", columns="eval_set", values="value", aggfunc="first", sort=True)
    wide = wide.rename(index=runs).reset_index().rename(columns={"run": "model"})
    wide.columns.name = None
    oods = [c for c in wide.columns if c not in ("model", ID_SET)]
    report = fit_robustness(
        wide, id_col=ID_SET, ood_cols=oods, baseline=list(runs.values()), transform=cfg.transform
    )
    from vlmrobust.data.world.classes import CLASS_NAMES

    chance = {ood: 1 / len(CLASS_NAMES) for ood in report.lines}  # zero-shot over the world's classes
    write_outputs(report, cfg.out, n_boot=1000, seed=0, annotate=True, chance=chance)
    plot_robustness_grid(report, cfg.out / "robustness_lines.png", annotate=True, chance=chance)
    return report


def _quiet(out: Path) -> None:
    """Keep the console to the quickstart's own progress lines: library noise goes to ``quickstart.log``
    (W&B and Lightning still write their own files)."""
    from vlmrobust.core.console import quiet_console

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    os.environ.setdefault("WANDB_SILENT", "true")
    quiet_console(out / "quickstart.log")


def run(cfg: QuickstartConfig) -> RobustnessReport:
    """Train every missing run of the family, then fit and write the robustness lines."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    _quiet(cfg.out)
    plan = [(n, s) for n in cfg.train_sizes for s in cfg.seeds]
    store = ResultsStore(cfg.out / "results.db")
    done = finished_runs(store.path, cfg.max_steps)
    keys: dict[str, str] = {}
    for i, (n, s) in enumerate(plan, 1):
        name, config = run_name(n, s), run_config(cfg, n, s)
        key = run_key(name, config)
        keys[key] = name
        if key in done:
            print(f"[{i}/{len(plan)}] {key}: already in results.db with these settings, reused")
            continue
        changed = store.config_change(name, config)
        if changed is not None:
            print(
                f"[{i}/{len(plan)}] {name}: settings differ from the stored run in {changed[1]}; training {key}"
            )
        start = time.perf_counter()
        train_one(cfg, n, s)
        print(f"[{i}/{len(plan)}] {key}: trained and evaluated in {time.perf_counter() - start:.0f} s")
    return summarise(cfg, keys)


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
