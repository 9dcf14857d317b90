"""``RobustnessCallback``: (ID, OOD) accuracy pairs in the probit plane at every validation.

The LightningModule answers each eval set by an evaluation protocol: it implements
``eval_protocol(info) -> EvalProtocol`` (``vlmrobust.eval.protocols``) and its ``validation_step`` (or
``test_step``) returns that protocol's ``BatchPredictions``; the DataModule exposes ``eval_sets``
(``vlmrobust.data.evalsets.EvalSetInfo``) in the order of its dataloaders. At the end of the epoch the
callback gathers every rank's per-sample rows on rank 0, drops the samples a distributed sampler
duplicated (by dataset index), reduces them with the protocol's own ``metrics`` (exact integer counts), so
the numbers equal what ``vlmrobust eval`` stores for the same model, logs them, logs a W&B Table and
scatter chart of the pairs, and writes the cells (under the protocol's key) and per-sample predictions to
the SQLite results store in one transaction.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pandas as pd

from vlmrobust.core.effective import effective_robustness
from vlmrobust.core.linefit import LineFit
from vlmrobust.core.store import Cell, ResultsStore
from vlmrobust.core.transforms import transform_accuracy
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.distributed import Ranks
from vlmrobust.eval.protocols.base import BatchPredictions, EvalProtocol, MetricValue


class RobustnessCallback(pl.Callback):
    """Log ID/OOD accuracy pairs (and effective robustness) at each validation and store them.

    Args:
        results_db: SQLite results store to write cells and per-sample predictions to; ``None`` disables.
        run_name: run key in the results store; defaults to the first logger's name/version.
        baseline_lines: a ``lines.json`` written by ``vlmrobust line`` (keys = OOD eval-set names); when
            given, ``robustness/<shift>/eff_robustness`` is logged for every shift it has a line for (a line
            fitted on another ID set than the shift's is refused).
        transform: accuracy transform of the logged plane coordinates.
        store_predictions: also store one row per sample.
        log_table: log a W&B Table and scatter chart of the pairs when a W&B logger is attached.
    """

    def __init__(
        self,
        results_db: str | None = None,
        run_name: str | None = None,
        baseline_lines: str | None = None,
        transform: str = "probit",
        store_predictions: bool = True,
        log_table: bool = True,
    ) -> None:
        self.results_db = results_db
        self.run_name = run_name
        self.baseline = _load_lines(baseline_lines) if baseline_lines else {}
        self.transform = transform
        self.store_predictions = store_predictions
        self.log_table = log_table
        self._rows: dict[int, list[dict[str, Any]]] = {}
        self._table_rows: list[list[Any]] = []
        self.last_results: dict[str, dict[str, MetricValue]] = {}

    # --- collection -------------------------------------------------------------------------------
    def _reset(self) -> None:
        self._rows = {}

    def _collect(self, outputs: Any, dataloader_idx: int) -> None:
        if not isinstance(outputs, BatchPredictions):
            raise TypeError(
                "RobustnessCallback needs validation_step/test_step to return the BatchPredictions of the "
                f"module's eval protocol (index, pred, label, correct); got {type(outputs).__name__}"
            )
        extra = outputs.extra or [None] * len(outputs.index)
        self._rows.setdefault(dataloader_idx, []).extend(
            {"index": int(i), "pred": int(p), "label": int(y), "correct": bool(c), "extra": e}
            for i, p, y, c, e in zip(
                outputs.index.tolist(), outputs.pred.tolist(), outputs.label.tolist(),
                outputs.correct.tolist(), extra, strict=True,
            )
        )  # fmt: skip

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
        protocols = [_protocol(pl_module, info) for info in eval_sets]
        ranks = Ranks(trainer.global_rank, trainer.world_size)
        records: dict[str, pd.DataFrame] = {}
        results: dict[str, dict[str, MetricValue]] = {}
        for i, (info, protocol) in enumerate(zip(eval_sets, protocols, strict=True)):
            rows = ranks.gather(self._rows.get(i, []))
            if ranks.is_main:
                records[info.name] = dedupe(rows, loaders[i].dataset)
                results[info.name] = protocol.metrics(records[info.name], info)
        results = ranks.broadcast(results)
        self.last_results = results
        for key, value in self._metrics(eval_sets, results).items():
            pl_module.log(key, value, sync_dist=False, add_dataloader_idx=False)
        if ranks.is_main:
            self._log_table(trainer, eval_sets, results)
            self._store(trainer, pl_module, eval_sets, protocols, records, results)
        self._reset()

    def _metrics(
        self, eval_sets: list[EvalSetInfo], results: dict[str, dict[str, MetricValue]]
    ) -> dict[str, float]:
        metrics: dict[str, float] = {}
        for info in eval_sets:
            metrics[f"val/{_key(info.name)}/acc"] = results[info.name]["top1"].value
        for info in _shifts(eval_sets):
            id_res, ood_res = results[info.id_set]["top1"], results[info.name]["top1"]
            base = f"robustness/{_key(info.name)}"
            metrics[f"{base}/id_acc"] = id_res.value
            metrics[f"{base}/ood_acc"] = ood_res.value
            metrics[f"{base}/id_{self.transform}"] = _t(id_res, self.transform)
            metrics[f"{base}/ood_{self.transform}"] = _t(ood_res, self.transform)
            if info.name in self.baseline:
                line = self.baseline[info.name]
                if line.id_set is not None and line.id_set != info.id_set:
                    raise ValueError(
                        f"baseline line for {info.name!r} was fitted with ID set {line.id_set!r}, but this "
                        f"pair's ID set is {info.id_set!r}; fit a line on ({info.id_set}, {info.name})"
                    )
                er, _ = effective_robustness(line, id_res.value, ood_res.value, n_id=id_res.n)
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
            id_res, ood_res = results[info.id_set]["top1"], results[info.name]["top1"]
            self._table_rows.append(
                [
                    trainer.global_step,
                    info.name,
                    id_res.value,
                    ood_res.value,
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

    def _store(self, trainer, pl_module, eval_sets, protocols, records, results) -> None:
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
                value=float(m.value),
                n=m.n,
                protocol=protocol.key,
                metric=name,
                step=step,
                extra=m.extra,
            )
            for info, protocol in zip(eval_sets, protocols, strict=True)
            for name, m in results[info.name].items()
        ]
        predictions = None
        if self.store_predictions:
            frames = [
                records[info.name].assign(
                    run=run, model=model, eval_set=info.name, protocol=protocol.key, step=step
                )
                for info, protocol in zip(eval_sets, protocols, strict=True)
            ]
            predictions = pd.concat(frames, ignore_index=True).drop(columns=["index"])
        ResultsStore(self.results_db).put(cells, predictions)


def dedupe(rows: list[dict[str, Any]], dataset: Any) -> pd.DataFrame:
    """Per-sample records of one set from every rank's rows: the first row of each dataset index (a
    ``DistributedSampler`` pads ranks with repeated samples), sorted by index, with ``sample_id``."""
    columns = ["index", "sample_id", "label", "pred", "correct", "extra"]
    if not rows:
        return pd.DataFrame({c: [] for c in columns})
    frame = pd.DataFrame(rows).drop_duplicates("index").sort_values("index", kind="stable")
    frame["sample_id"] = [dataset.sample_id(int(i)) for i in frame["index"]]
    return frame[columns].reset_index(drop=True)


def _protocol(pl_module: pl.LightningModule, info: EvalSetInfo) -> EvalProtocol:
    get = getattr(pl_module, "eval_protocol", None)
    if get is None:
        raise AttributeError(
            f"RobustnessCallback needs the LightningModule to implement eval_protocol(info) -> EvalProtocol "
            f"(vlmrobust.eval.protocols); {type(pl_module).__name__} does not"
        )
    return get(info)


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


def _t(res: MetricValue, transform: str) -> float:
    return float(transform_accuracy(res.value, transform, n=res.n))


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
                slope=v["slope"],
                intercept=v["intercept"],
                r2=v["r2"],
                n=v["n"],
                transform=v["transform"],
                id_set=v.get("id_set"),
                ood_set=v.get("ood_set"),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(
                f"{file}: entry {ood!r} misses {err}; expected slope, intercept, r2, n, transform"
            ) from err
    return lines
