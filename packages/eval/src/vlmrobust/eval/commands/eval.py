"""``vlmrobust eval``: models × eval sets × protocols into the results store, resumable and sharded.

    vlmrobust eval --config configs/eval/world_tiny.yaml
    vlmrobust eval --config configs/eval/world_tiny.yaml --run again --chunk_size 64
    vlmrobust eval --config configs/eval/world_tiny.yaml --protocols+ MCQByPrompt \
        --models+ '{"spec": "hf:/models/llava-1.5-7b-hf", "role": "vlm", "family": "vlm"}'
    torchrun --nproc-per-node 8 -m vlmrobust.eval.commands.eval --config configs/eval/main_paper.yaml --device cuda

A config names ``models`` (spec, role, family), ``data`` (any DataModule with ``eval_sets``, as
``class_path``/``init_args``), ``protocols`` (each a ``class_path`` of ``vlmrobust.eval.protocols`` with its
``init_args``) and the runner's settings (the ``EvalRunner`` signature). ``--print_config`` shows the
resolved config. Cells are stored under ``<run>-<hash of the data, step and dtype>`` (``eval_identity``), so a
rerun on the same data skips finished cells and resumes unfinished ones from their last chunk.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vlmrobust.core.errors import CLIError, cli_main
from vlmrobust.eval.models import ModelEntry
from vlmrobust.eval.protocols.base import EvalProtocol
from vlmrobust.eval.runner import EvalData, EvalReport, EvalRunner


def build_parser() -> Any:
    """The jsonargparse parser: runner settings at the top level, plus models, data, protocols, wandb."""
    from jsonargparse import ActionConfigFile, ArgumentParser
    from lightning.pytorch import LightningDataModule

    parser = ArgumentParser(prog="vlmrobust eval", description=__doc__.split("\n\n")[0], exit_on_error=False)
    parser.add_argument("--config", action=ActionConfigFile, help="YAML config (configs/eval/*.yaml)")
    parser.add_class_arguments(EvalRunner, nested_key=None, fail_untyped=True)
    parser.add_argument("--models", type=list[ModelEntry], required=True, help="models to evaluate")
    parser.add_subclass_arguments(LightningDataModule, "data", help="DataModule serving the eval sets")
    parser.add_argument("--protocols", type=list[EvalProtocol], required=True, help="protocols to run")
    parser.add_argument("--wandb", type=bool, default=False, help="log a W&B run with a Table of the cells")
    parser.add_argument("--wandb_project", type=str, default="vlmrobust", help="W&B project of that run")
    return parser


def run_from_args(argv: Sequence[str]) -> EvalReport:
    """Parse ``argv``, run the evaluation, log to W&B if asked; return the report."""
    parser = build_parser()
    cfg = parser.parse_args(list(argv))
    init = parser.instantiate_classes(cfg)
    runner_args = {k: init[k] for k in ("results_db", "run", "step", "chunk_size", "batch_size",
                                        "num_workers", "device", "dtype", "progress")}  # fmt: skip
    runner = EvalRunner(**runner_args)
    runner.identify(init.run, eval_identity(cfg))
    report = runner.evaluate(list(init.models), EvalData(init.data), list(init.protocols))
    if runner.ranks.is_main:
        print(summary(report, runner))
        if init.wandb:
            log_to_wandb(report, runner, init.wandb_project)
    return report


def eval_identity(cfg: Any) -> dict[str, Any]:
    """What makes an eval run's numbers: the data (DataModule and its arguments), the step and the dtype.
    Models and protocols are part of every cell's key, so adding one to a run never changes the run."""
    data = cfg.data.as_dict() if hasattr(cfg.data, "as_dict") else dict(cfg.data)
    return {"data": data, "step": cfg.step, "dtype": cfg.dtype}


def summary(report: EvalReport, runner: EvalRunner) -> str:
    """A short text summary: cells written, skipped, samples, and the share of time spent on the store."""
    t = report.times
    share = t.store / t.total if t.total > 0 else 0.0
    lines = [
        f"{len(report.cells)} cells written, {len(report.skipped)} finished (model, set, protocol) skipped, "
        f"{report.predicted} samples predicted in {t.total:.1f} s (store and bookkeeping {100 * share:.1f} %) "
        f"-> {runner.store.path}"
    ]
    for c in report.cells:
        if c.metric == "top1":
            lines.append(f"  {c.model:<40} {c.eval_set:<28} {c.protocol:<28} {c.value:.4f} (n={c.n})")
    return "\n".join(lines)


def log_to_wandb(report: EvalReport, runner: EvalRunner, project: str) -> None:
    """One W&B run (offline without credentials) named after the eval run, with a Table of its cells."""
    import wandb

    from vlmrobust.eval.tracking import resolve_wandb_offline

    save_dir = Path(runner.store.path).parent
    mode = "offline" if resolve_wandb_offline() else "online"
    run = wandb.init(project=project, name=runner.run, dir=str(save_dir), mode=mode, job_type="eval",
                     settings=wandb.Settings(console="off", x_disable_stats=True, silent=True))  # fmt: skip
    cells = runner.store.cells(run=runner.run)
    columns = ["model", "eval_set", "protocol", "metric", "step", "value", "n"]
    run.log({"eval/cells": wandb.Table(columns=columns, data=cells[columns].values.tolist())})
    run.finish()


@cli_main("eval")
def main(argv: list[str]) -> int:
    """``vlmrobust eval`` entry point (also ``python -m vlmrobust.eval.commands.eval`` under torchrun)."""
    from jsonargparse import ArgumentError

    try:
        run_from_args(argv)
    except ArgumentError as err:
        raise CLIError(_with_suggestion(str(err).strip())) from err
    return 0


def _with_suggestion(message: str) -> str:
    """Append protocol names close to an unknown protocol ``class_path`` to jsonargparse's message."""
    from vlmrobust.core.suggest import did_you_mean
    from vlmrobust.eval.protocols import PROTOCOLS

    bad = re.search(r'"protocols".*?(?:import path string: |class_path \')([\w.]+)', message, re.S)
    if bad is None:
        return message
    names = [cls.__name__ for cls in PROTOCOLS.values()]
    return f"{message}\n  {did_you_mean(bad.group(1).rsplit('.', 1)[-1], names, 'protocols')}"


if __name__ == "__main__":
    sys.exit(main())
