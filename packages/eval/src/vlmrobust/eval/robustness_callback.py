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

Cells are stored under the run key ``<run_name>-<config hash>`` (``vlmrobust.core.runs``): the config is
the resolved LightningCLI config that ``vlmrobust fit``/``validate``/``test`` binds (``bind_config``), or,
for a ``Trainer`` built in Python, the module's and DataModule's hyperparameters, the trainer settings that
change results and the global seed. The store records it at ``setup``, so a changed flag writes a new run
(or, with ``on_config_change="refuse"``, stops before training, naming the keys that differ).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import pandas as pd

from vlmrobust.core.effective import effective_robustness
from vlmrobust.core.linefit import LineFit
from vlmrobust.core.runs import run_key, sweep_trial
from vlmrobust.core.store import Cell, ResultsStore
from vlmrobust.core.tables import format_rows
from vlmrobust.core.transforms import transform_accuracy
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.distributed import Ranks
from vlmrobust.eval.protocols.base import BatchPredictions, EvalProtocol, MetricValue

log = logging.getLogger(__name__)


class RobustnessCallback(pl.Callback):
    """Log ID/OOD accuracy pairs (and effective robustness) at each validation and store them.

    Args:
        results_db: SQLite results store to write cells and per-sample predictions to; ``None`` disables.
        run_name: run name in the results store (the key adds the config hash); defaults to the first
            logger's name/version.
        baseline_lines: a ``lines.json`` written by ``vlmrobust line`` (keys = OOD eval-set names); when
            given, ``robustness/<shift>/eff_robustness`` is logged for every shift it has a line for (a line
            fitted on another ID set than the shift's is refused).
        transform: accuracy transform of the logged plane coordinates.
        store_predictions: also store one row per sample.
        log_table: log a W&B Table and scatter chart of the pairs when a W&B logger is attached.
        on_config_change: when the store holds a run of this name with another config: write this one
            under its own key (``new``) or stop before training, naming the keys that differ (``refuse``).
        print_table: print the accuracies of the last evaluation once (rank 0) when ``fit``, ``validate`` or
            ``test`` ends.
    """

    def __init__(
        self,
        results_db: str | None = None,
        run_name: str | None = None,
        baseline_lines: str | None = None,
        transform: str = "probit",
        store_predictions: bool = True,
        log_table: bool = True,
        on_config_change: Literal["new", "refuse"] = "new",
        print_table: bool = True,
    ) -> None:
        self.results_db = results_db
        self.run_name = run_name
        self.on_config_change = on_config_change
        self.print_table = print_table
        self._last: tuple[int, list[tuple[str, str]]] | None = None  # (step, [(eval set, protocol key)])
        self.run_config: dict[str, Any] | None = None
        self.run: str | None = None  # the run key, set in setup
        self._variant: tuple[str, dict[str, Any]] | None = None  # (name suffix, config additions)
        self.baseline = _load_lines(baseline_lines) if baseline_lines else {}
        self.transform = transform
        self.store_predictions = store_predictions
        self.log_table = log_table
        self._rows: dict[int, list[dict[str, Any]]] = {}
        self._table_rows: list[list[Any]] = []
        self.last_results: dict[str, dict[str, MetricValue]] = {}

    # --- run identity -----------------------------------------------------------------------------
    def bind_config(self, config: Mapping[str, Any]) -> None:
        """Identify the run by this resolved config (``vlmrobust fit`` binds its LightningCLI config)."""
        self.run_config = dict(config)

    def set_variant(self, suffix: str | None, config: Mapping[str, Any] | None = None) -> None:
        """Store the following evaluations as a variant of this run (WiSE-FT's θ(α)): run name
        ``<run name>-<suffix>``, config extended by ``config``, logged metrics prefixed ``<suffix>/``; the W&B
        run keeps its name. ``None`` returns to the run itself. Takes effect at the next ``setup``."""
        self._variant = None if suffix is None else (suffix, dict(config or {}))

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.results_db is None:
            return
        config = self.run_config if self.run_config is not None else derived_config(trainer, pl_module)
        config = {**config, **sweep_trial()}
        name = self.run_name or _default_run_name(trainer)
        if self._variant is not None:
            name, config = f"{name}-{self._variant[0]}", {**config, **self._variant[1]}
        key = run_key(name, config)
        problem = None
        if trainer.is_global_zero:
            problem = _record_run(ResultsStore(self.results_db), key, name, config, self.on_config_change)
        problem = trainer.strategy.broadcast(problem, src=0)
        if problem is not None:
            raise ValueError(problem)
        self.run = key
        if trainer.is_global_zero and self._variant is None:
            _name_wandb_runs(trainer, key)

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

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._print(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.state.fn == "validate":
            self._print(trainer)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._print(trainer)

    def _print(self, trainer: pl.Trainer) -> None:
        if not self.print_table or not trainer.is_global_zero or self._last is None:
            return
        step, sets = self._last
        where = f" in {self.results_db} as run {self.run}" if self.results_db else ""
        print(accuracy_table(self.last_results, sets, title=f"Accuracies at step {step}{where}:"))

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
        self._last = (
            _step(trainer),
            [(info.name, p.key) for info, p in zip(eval_sets, protocols, strict=True)],
        )
        prefix = f"{self._variant[0]}/" if self._variant is not None else ""
        for key, value in self._metrics(eval_sets, results).items():
            pl_module.log(prefix + key, value, sync_dist=False, add_dataloader_idx=False)
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
            if info.benchmark is not None:  # compositional sets: every cell (pair, set_of_4, macro ...)
                for name, value in results[info.name].items():
                    if name != "top1":
                        metrics[f"val/{_key(info.name)}/{_key(name)}"] = value.value
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
        run = self.run
        if run is None:
            raise RuntimeError("RobustnessCallback.setup did not run: attach the callback to a Trainer")
        model = str(getattr(pl_module, "model_spec", type(pl_module).__name__))
        step = _step(trainer)
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


def accuracy_table(
    results: dict[str, dict[str, MetricValue]], sets: list[tuple[str, str]], title: str
) -> str:
    """``title`` and one row per eval set: protocol, top-1 accuracy, sample count."""
    rows = [("eval set", "protocol", "top1", "n")]
    rows += [
        (name, key, f"{results[name]['top1'].value:.4f}", str(results[name]["top1"].n)) for name, key in sets
    ]
    lines = format_rows(rows, left=2, indent="  ")
    return "\n".join([title, *lines])


def derived_config(trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
    """The identity config of a run whose ``Trainer`` was built in Python: module and DataModule classes
    and hyperparameters, the trainer settings that change results, the global seed, and the checkpoint
    evaluated (validate/test)."""

    def part(obj: Any) -> dict[str, Any] | None:
        if obj is None:
            return None
        return {"class_path": f"{type(obj).__module__}.{type(obj).__qualname__}",
                "init_args": dict(getattr(obj, "hparams", {}))}  # fmt: skip

    fit_loop = trainer.fit_loop
    config = {
        "seed_everything": os.environ.get("PL_GLOBAL_SEED"),
        "model": part(pl_module),
        "data": part(trainer.datamodule),
        "trainer": {
            "max_steps": fit_loop.max_steps,
            "max_epochs": fit_loop.max_epochs,
            "accumulate_grad_batches": trainer.accumulate_grad_batches,
            "gradient_clip_val": trainer.gradient_clip_val,
            "precision": str(trainer.precision),
            "num_nodes": trainer.num_nodes,
            "num_devices": trainer.num_devices,
            "strategy": type(trainer.strategy).__name__,
        },
    }
    if trainer.ckpt_path is not None and trainer.state.fn != "fit":
        config["ckpt_path"] = str(trainer.ckpt_path)
    return config


def _name_wandb_runs(trainer: pl.Trainer, key: str) -> None:
    """Name every W&B run of the trainer after the run key, so W&B and the store agree (and two sweep trials
    never share a W&B name)."""
    from lightning.pytorch.loggers import WandbLogger

    for lg in trainer.loggers:
        if isinstance(lg, WandbLogger):
            lg.experiment.name = key


def _record_run(
    store: ResultsStore, key: str, name: str, config: Mapping[str, Any], on_change: str
) -> str | None:
    """Record ``key``'s config; say when other runs of ``name`` differ. Return an error to raise, or ``None``."""
    change = store.config_change(name, config)
    if change is not None:
        what = f"run {name!r}: the config differs from the stored {change[0]} in {change[1]}"
        if on_change == "refuse":
            return (
                f"{store.path}: {what}; give another run_name, or on_config_change='new' to store it as {key}"
            )
        log.info("%s; storing this run as %s", what, key)
    store.put_run(key, name, config)
    return None


def _step(trainer: pl.Trainer) -> int:
    """The global step of the weights evaluated: the trainer's, or that of the checkpoint ``validate`` /
    ``test`` loaded (their loops restore only the weights, so the trainer says 0)."""
    if trainer.state.fn != "fit" and trainer.ckpt_path is not None:
        path = Path(trainer.ckpt_path)
        return _checkpoint_step(str(path), path.stat().st_mtime_ns)
    return int(trainer.global_step)


@functools.lru_cache(maxsize=8)
def _checkpoint_step(path: str, mtime_ns: int) -> int:
    """``global_step`` of a Lightning checkpoint (memory-mapped: the tensors are not read)."""
    import torch

    checkpoint = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
    if "global_step" not in checkpoint:
        raise KeyError(f"{path} is not a Lightning checkpoint: it has no 'global_step'")
    return int(checkpoint["global_step"])


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
