"""``RobustnessCallback``: (ID, OOD) accuracy pairs in the probit plane at every validation.

The LightningModule's ``validation_step`` (or ``test_step``) returns, per batch, a dict with ``index``
(dataset positions), ``pred``, ``label`` and ``correct`` tensors; the DataModule exposes ``eval_sets``
(``vlmrobust.data.evalsets.EvalSetInfo``) in the order of its dataloaders. At the end of the epoch the
callback gathers every rank's rows, drops the samples a distributed sampler duplicated (by index),
computes exact accuracies, logs them, logs a W&B Table and scatter chart of the pairs, and writes the
cells and per-sample predictions to the SQLite results store in one transaction.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pandas as pd
import torch

from vlmrobust.core.effective import effective_robustness
from vlmrobust.core.linefit import LineFit
from vlmrobust.core.store import Cell, ResultsStore
from vlmrobust.core.transforms import transform_accuracy
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.gather import PredictionBuffer, gather_rows


class RobustnessCallback(pl.Callback):
    """Log ID/OOD accuracy pairs (and effective robustness) at each validation and store them.

    Args:
        results_db: SQLite results store to write cells and per-sample predictions to; ``None`` disables.
        run_name: run key in the results store; defaults to the first logger's name/version.
        baseline_lines: a ``lines.json`` written by ``vlmrobust line`` (keys = OOD eval-set names); when
            given, ``robustness/<shift>/eff_robustness`` is logged for every shift it has a line for.
        transform: accuracy transform of the logged plane coordinates.
        protocol: protocol key of the stored cells (e.g. ``zeroshot`` or ``mcq-random-k5``).
        store_predictions: also store one row per sample.
        log_table: log a W&B Table and scatter chart of the pairs when a W&B logger is attached.
    """

    def __init__(
        self,
        results_db: str | None = None,
        run_name: str | None = None,
        baseline_lines: str | None = None,
        transform: str = "probit",
        protocol: str = "zeroshot",
        store_predictions: bool = True,
        log_table: bool = True,
    ) -> None:
        self.results_db = results_db
        self.run_name = run_name
        self.baseline = _load_lines(baseline_lines) if baseline_lines else {}
        self.transform = transform
        self.protocol = protocol
        self.store_predictions = store_predictions
        self.log_table = log_table
        self._buffers: dict[int, PredictionBuffer] = {}
        self._table_rows: list[list[Any]] = []
        self.last_results: dict[str, dict[str, float]] = {}

    # --- collection -------------------------------------------------------------------------------
    def _reset(self) -> None:
        self._buffers = {}

    def _collect(self, outputs: Any, dataloader_idx: int) -> None:
        if not isinstance(outputs, dict) or "correct" not in outputs:
            raise TypeError(
                "RobustnessCallback needs validation_step/test_step to return a dict with 'index', 'pred', "
                f"'label' and 'correct' tensors; got {type(outputs).__name__}"
            )
        buf = self._buffers.setdefault(dataloader_idx, PredictionBuffer())
        buf.add(outputs["index"], outputs["pred"], outputs["label"], outputs["correct"])

    def on_validation_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._reset()

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._reset()

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ) -> None:
        if not trainer.sanity_checking:
            self._collect(outputs, dataloader_idx)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        self._collect(outputs, dataloader_idx)

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._finish(trainer, pl_module, trainer.val_dataloaders)

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._finish(trainer, pl_module, trainer.test_dataloaders)

    # --- reduction --------------------------------------------------------------------------------
    def _finish(self, trainer: pl.Trainer, pl_module: pl.LightningModule, dataloaders: Any) -> None:
        eval_sets = _eval_sets(trainer)
        loaders = dataloaders if isinstance(dataloaders, list | tuple) else [dataloaders]
        if len(loaders) != len(eval_sets):
            raise ValueError(
                f"{len(loaders)} eval dataloaders but {len(eval_sets)} eval_sets in the datamodule"
            )
        per_set: dict[str, torch.Tensor] = {}
        for i, info in enumerate(eval_sets):
            rows = self._buffers.get(i, PredictionBuffer()).stacked().to(pl_module.device)
            per_set[info.name] = gather_rows(rows, pl_module.all_gather)
        results = {name: _accuracy(rows) for name, rows in per_set.items()}
        self.last_results = results
        metrics = self._metrics(eval_sets, results)
        for key, value in metrics.items():
            pl_module.log(key, value, sync_dist=False, add_dataloader_idx=False)
        if trainer.is_global_zero:
            self._log_table(trainer, eval_sets, results)
            self._store(trainer, pl_module, eval_sets, loaders, per_set, results)
        self._reset()

    def _metrics(
        self, eval_sets: list[EvalSetInfo], results: dict[str, dict[str, float]]
    ) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for info in eval_sets:
            metrics[f"val/{_key(info.name)}/acc"] = results[info.name]["acc"]
        for info in _shifts(eval_sets):
            id_res, ood_res = results[info.id_set], results[info.name]
            base = f"robustness/{_key(info.name)}"
            metrics[f"{base}/id_acc"] = id_res["acc"]
            metrics[f"{base}/ood_acc"] = ood_res["acc"]
            metrics[f"{base}/id_{self.transform}"] = _t(id_res, self.transform)
            metrics[f"{base}/ood_{self.transform}"] = _t(ood_res, self.transform)
            if info.name in self.baseline:
                er, _ = effective_robustness(self.baseline[info.name], id_res["acc"], ood_res["acc"])
                metrics[f"{base}/eff_robustness"] = float(er)
        return metrics

    def _log_table(self, trainer: pl.Trainer, eval_sets: list[EvalSetInfo], results: dict) -> None:
        if not self.log_table:
            return
        from lightning.pytorch.loggers import WandbLogger

        wandb_loggers = [lg for lg in trainer.loggers if isinstance(lg, WandbLogger)]
        if not wandb_loggers:
            return
        import wandb

        for info in _shifts(eval_sets):
            id_res, ood_res = results[info.id_set], results[info.name]
            self._table_rows.append(
                [
                    trainer.global_step,
                    info.name,
                    id_res["acc"],
                    ood_res["acc"],
                    _t(id_res, self.transform),
                    _t(ood_res, self.transform),
                ]
            )
        columns = ["step", "shift", "id_acc", "ood_acc", f"id_{self.transform}", f"ood_{self.transform}"]
        table = wandb.Table(columns=columns, data=self._table_rows)
        chart = wandb.plot.scatter(
            table,
            f"id_{self.transform}",
            f"ood_{self.transform}",
            title=f"ID vs OOD accuracy ({self.transform})",
        )
        for lg in wandb_loggers:
            lg.experiment.log(
                {
                    "robustness/pairs": table,
                    "robustness/scatter": chart,
                    "trainer/global_step": trainer.global_step,
                }
            )

    def _store(self, trainer, pl_module, eval_sets, loaders, per_set, results) -> None:
        if self.results_db is None:
            return
        run = self.run_name or _default_run_name(trainer)
        model = str(getattr(pl_module, "model_spec", type(pl_module).__name__))
        step = int(trainer.global_step)
        cells = [
            Cell(
                run=run,
                model=model,
                eval_set=info.name,
                value=results[info.name]["acc"],
                n=int(results[info.name]["n"]),
                protocol=self.protocol,
                metric="top1",
                step=step,
            )
            for info in eval_sets
        ]
        predictions = None
        if self.store_predictions:
            frames = []
            for info, loader in zip(eval_sets, loaders, strict=True):
                rows = per_set[info.name].numpy()
                sample_id = loader.dataset.sample_id
                frames.append(
                    pd.DataFrame(
                        {
                            "run": run,
                            "model": model,
                            "eval_set": info.name,
                            "protocol": self.protocol,
                            "step": step,
                            "sample_id": [sample_id(int(i)) for i in rows[:, 0]],
                            "label": rows[:, 2],
                            "pred": rows[:, 1],
                            "correct": rows[:, 3],
                        }
                    )
                )
            predictions = pd.concat(frames, ignore_index=True)
        ResultsStore(self.results_db).put(cells, predictions)


def _eval_sets(trainer: pl.Trainer) -> list[EvalSetInfo]:
    dm = trainer.datamodule
    sets = getattr(dm, "eval_sets", None)
    if sets is None:
        raise AttributeError(
            f"RobustnessCallback needs a DataModule with an `eval_sets` attribute (list of EvalSetInfo); "
            f"got {type(dm).__name__}"
        )
    return list(sets)


def _shifts(eval_sets: list[EvalSetInfo]) -> list[EvalSetInfo]:
    names = {info.name for info in eval_sets}
    shifts = [info for info in eval_sets if info.id_set is not None]
    for info in shifts:
        if info.id_set not in names:
            raise ValueError(f"eval set {info.name!r} is paired with {info.id_set!r}, which is not served")
    return shifts


def _accuracy(rows: torch.Tensor) -> dict[str, float]:
    n = int(rows.shape[0])
    acc = float(rows[:, 3].float().mean()) if n else float("nan")
    return {"acc": acc, "n": n}


def _t(res: dict[str, float], transform: str) -> float:
    return float(transform_accuracy(res["acc"], transform, n=int(res["n"])))


def _key(name: str) -> str:
    return name.replace("/", ".")


def _default_run_name(trainer: pl.Trainer) -> str:
    if trainer.loggers:
        lg = trainer.loggers[0]
        return f"{lg.name}/{lg.version}"
    return "run"


def _load_lines(path: str) -> dict[str, LineFit]:
    """Read a ``lines.json`` of ``vlmrobust line``; lines are re-expressed in fraction units."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"baseline_lines file not found: {file}")
    raw = json.loads(file.read_text())
    lines = {}
    for ood, v in raw.items():
        try:
            lines[ood] = LineFit(
                slope=v["slope"], intercept=v["intercept"], r2=v["r2"], n=v["n"], transform=v["transform"]
            )
        except (KeyError, TypeError) as err:
            raise ValueError(
                f"{file}: entry {ood!r} misses {err}; expected slope, intercept, r2, n, transform"
            ) from err
    return lines
