"""The evaluation runner behind ``vlmrobust eval``: models × eval sets × protocols into the results store.

For every (model, eval set, protocol) that fits (the protocol drives the model's role and runs the set's
task), the runner predicts every sample not yet stored and commits predictions in chunks, one transaction
each, on a background writer thread (``ChunkWriter``) while the next chunk is predicted: a killed run loses
only chunks not yet committed (the one being written and the one being predicted), and a rerun resumes
after the last committed one. When every sample
is stored, the protocol's metrics are computed from the stored per-sample records and written as cells
(one transaction), so a finished cell is skipped next time and numbers never depend on how often a run
was interrupted. Under ``torchrun``/``fabric run`` every rank predicts a strided share of each chunk;
rank 0 gathers the rows and alone writes the store, de-duplicating by sample id.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from vlmrobust.core.store import Cell, ResultsStore
from vlmrobust.data.collate import eval_collate
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.eval.distributed import Ranks
from vlmrobust.eval.models import ModelEntry, load_model
from vlmrobust.eval.protocols.base import BatchPredictions, EvalProtocol, ProtocolError
from vlmrobust.eval.writer import ChunkWriter


@dataclass
class EvalTimes:
    """Where the wall time of a run went (seconds)."""

    total: float = 0.0
    predict: float = 0.0  # model forwards and data loading
    store: float = 0.0  # store reads/writes and bookkeeping


@dataclass
class EvalReport:
    """What a run did: cells written, cells skipped as finished, samples predicted, timings."""

    cells: list[Cell] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (model, eval set, protocol)
    predicted: int = 0
    times: EvalTimes = field(default_factory=EvalTimes)


class EvalData:
    """Eval sets and their datasets, from any DataModule with ``eval_sets`` and ``eval_datasets``.

    Args:
        datamodule: e.g. ``WorldDataModule(mode="mcq")`` or ``ImageNetDataModule(...)``; set up here.
    """

    def __init__(self, datamodule: Any) -> None:
        datamodule.setup("validate")
        sets = list(datamodule.eval_sets)
        datasets = list(getattr(datamodule, "eval_datasets", []))
        if len(sets) != len(datasets):
            raise ValueError(
                f"{type(datamodule).__name__} declares {len(sets)} eval_sets but has {len(datasets)} eval_datasets"
            )
        self.pairs: list[tuple[EvalSetInfo, Dataset]] = list(zip(sets, datasets, strict=True))


def _rows(pred: BatchPredictions, dataset: Dataset, key: dict[str, Any]) -> list[dict[str, Any]]:
    """Prediction records of one batch under the cell's ``key`` (run, model, eval set, protocol, step)."""
    extra = pred.extra or [None] * len(pred.index)
    return [
        {
            **key,
            "sample_id": dataset.sample_id(int(i)),
            "label": int(y),
            "pred": int(p),
            "correct": bool(c),
            "extra": e,
        }
        for i, p, y, c, e in zip(
            pred.index.tolist(),
            pred.pred.tolist(),
            pred.label.tolist(),
            pred.correct.tolist(),
            extra,
            strict=True,
        )
    ]


class EvalRunner:
    """Run protocols over models and eval sets into one results store (see the module docstring).

    Args:
        results_db: the SQLite results store written (by rank 0 only).
        run: run key of every cell and prediction.
        step: step key (``-1``: not tied to a training step).
        chunk_size: samples per committed chunk (a killed run loses at most two).
        batch_size: samples per forward.
        num_workers: DataLoader workers.
        device: ``cpu``, ``cuda`` (each rank uses its local GPU) or an explicit device.
        dtype: parameter dtype of the loaded models.
        progress: show a progress bar (rank 0) with samples/s and ETA.
    """

    def __init__(
        self,
        results_db: str,
        run: str,
        step: int = -1,
        chunk_size: int = 512,
        batch_size: int = 64,
        num_workers: int = 0,
        device: str = "cpu",
        dtype: str = "float32",
        progress: bool = True,
    ) -> None:
        if chunk_size < 1 or batch_size < 1:
            raise ValueError(f"chunk_size and batch_size must be >= 1, got {chunk_size} and {batch_size}")
        self.store = ResultsStore(results_db)
        self.run, self.step = run, step
        self.chunk_size, self.batch_size, self.num_workers = chunk_size, batch_size, num_workers
        self.ranks = Ranks.from_env()
        self.device = self.ranks.device(device)
        self.dtype = getattr(torch, dtype)
        self.progress = progress and self.ranks.is_main
        self._identity: tuple[str, dict[str, Any]] | None = None

    def identify(self, name: str, config: Mapping[str, Any]) -> None:
        """Key this run by ``name`` and the config that makes its numbers (``vlmrobust.core.runs``): the run
        becomes ``<name>-<hash>``, recorded in the store once planning succeeds (``vlmrobust eval`` passes the
        data, step and dtype; models and protocols are part of every cell's key)."""
        from vlmrobust.core.runs import run_key

        self.run = run_key(name, config)
        self._identity = (name, dict(config))

    # --- planning ---------------------------------------------------------------------------------
    @staticmethod
    def plan(
        models: Sequence[ModelEntry], data: EvalData, protocols: Sequence[EvalProtocol]
    ) -> list[tuple[ModelEntry, EvalSetInfo, Dataset, EvalProtocol]]:
        """Every (model, eval set, protocol) the protocol can run; a protocol or model left with none
        is an error naming what it supports."""
        from vlmrobust.models.spec import parse_spec

        for model in models:  # a bad spec fails before anything runs
            parse_spec(model.spec)
        jobs = []
        for model in models:
            mine = [p for p in protocols if p.role == model.role]
            if not mine:
                roles = sorted({p.role for p in protocols})
                raise ProtocolError(
                    f"model {model.name!r} is a {model.role}, but the protocols given drive {', '.join(roles)} "
                    "models only"
                )
            for info, dataset in data.pairs:
                jobs += [(model, info, dataset, p) for p in mine if p.supports(model.role, info)]
        for p in protocols:
            if not any(job[3] is p for job in jobs):
                tasks = sorted({info.task for info, _ in data.pairs})
                raise ProtocolError(
                    f"protocol {p.key!r} ({p.role} models, {'/'.join(p.tasks)} sets) fits no model and eval set "
                    f"given (tasks: {', '.join(tasks)}; roles: {', '.join(sorted({m.role for m in models}))})"
                )
        return jobs

    # --- running ----------------------------------------------------------------------------------
    def evaluate(
        self,
        models: Sequence[ModelEntry],
        data: EvalData,
        protocols: Sequence[EvalProtocol],
        loaded: Mapping[str, Any] | None = None,
    ) -> EvalReport:
        """Run every fitting (model, eval set, protocol) not finished yet; return what was done.

        Args:
            models: the models, by spec and role.
            data: the eval sets.
            protocols: the protocols to run where they fit.
            loaded: models already in memory, by entry name (e.g. from a notebook); others are loaded.
        """
        start = time.perf_counter()
        report = EvalReport()
        jobs = self.plan(models, data, protocols)
        if self._identity is not None and self.ranks.is_main:
            self.store.put_run(self.run, *self._identity)
        cache: dict[str, Any] = {}
        for entry, info, dataset, protocol in jobs:
            t0 = time.perf_counter()
            finished = self._finished(entry, info, protocol)
            report.times.store += time.perf_counter() - t0
            if finished:
                report.skipped.append((entry.name, info.name, protocol.key))
                continue
            if loaded is not None and entry.name in loaded:
                model = loaded[entry.name]
            else:
                if entry.name not in cache:
                    cache.clear()  # one model in memory at a time
                    cache[entry.name] = load_model(entry, self.device, self.dtype)
                model = cache[entry.name]
            report.predicted += self._run_cell(model, entry, info, dataset, protocol, report)
        report.times.total = time.perf_counter() - start
        return report

    def _finished(self, entry: ModelEntry, info: EvalSetInfo, protocol: EvalProtocol) -> bool:
        problem = None
        if self.ranks.is_main:
            cells = self.store.cells(
                run=self.run, model=entry.name, eval_set=info.name, protocol=protocol.key, metric="top1",
                step=self.step,
            )  # fmt: skip
            done = not cells.empty
            stored = {(e or {}).get("spec") for e in cells["extra"]} - {None, entry.spec}
            if stored:
                problem = (
                    f"{self.store.path}: model {entry.name!r} of run {self.run!r} is stored from spec "
                    f"{sorted(stored)[0]!r}, not {entry.spec!r}; give this model another name"
                )
        else:
            done = False
        done, problem = self.ranks.broadcast((done, problem))
        if problem is not None:
            raise ValueError(problem)
        return bool(done)

    def _remaining(
        self, entry: ModelEntry, info: EvalSetInfo, dataset: Dataset, protocol: EvalProtocol
    ) -> tuple[list[int], bool]:
        """Dataset positions without a stored prediction, and whether any prediction was stored before."""
        done: set[str] = set()
        if self.ranks.is_main:
            done = self.store.prediction_ids(self.run, entry.name, info.name, protocol.key, self.step)
        todo = (
            [i for i in range(len(dataset)) if dataset.sample_id(i) not in done] if self.ranks.is_main else []
        )
        return self.ranks.broadcast((todo, bool(done)))

    def _run_cell(
        self, model: Any, entry: ModelEntry, info: EvalSetInfo, dataset: Dataset, protocol: EvalProtocol,
        report: EvalReport,
    ) -> int:  # fmt: skip
        t0 = time.perf_counter()
        todo, resumed = self._remaining(entry, info, dataset, protocol)
        report.times.store += time.perf_counter() - t0
        dataset.transform = protocol.image_transform(model)
        if todo:
            protocol.prepare(model, info, dataset)
        bar = self._bar(len(todo), f"{entry.name} · {info.name} · {protocol.key}")
        key = {"run": self.run, "model": entry.name, "eval_set": info.name, "protocol": protocol.key,
               "step": self.step}  # fmt: skip
        done: list[dict[str, Any]] = []  # this run's rows (rank 0), reduced without reading them back
        writer = ChunkWriter(self.store) if self.ranks.is_main else None
        with writer if writer is not None else contextlib.nullcontext():
            for start in range(0, len(todo), self.chunk_size):
                chunk = todo[start : start + self.chunk_size]
                t0 = time.perf_counter()
                mine = chunk[self.ranks.rank :: self.ranks.world]
                local = [
                    row for batch in self._predict(model, info, dataset, protocol, mine, key) for row in batch
                ]
                report.times.predict += time.perf_counter() - t0
                t0 = time.perf_counter()
                rows = self.ranks.gather(local)
                if writer is not None:
                    writer.submit(rows)  # one transaction per chunk, written while the next is predicted
                    done += rows
                self.ranks.barrier()
                report.times.store += time.perf_counter() - t0
                if bar is not None:
                    bar.update(len(chunk))
            t0 = time.perf_counter()
        report.times.store += time.perf_counter() - t0  # waiting for the last chunks to be committed
        if bar is not None:
            bar.close()
        t0 = time.perf_counter()
        if self.ranks.is_main:
            report.cells += self._write_cells(entry, info, dataset, protocol, done, resumed)
        self.ranks.barrier()
        report.times.store += time.perf_counter() - t0
        return len(todo)

    def _predict(
        self, model: Any, info: EvalSetInfo, dataset: Dataset, protocol: EvalProtocol, indices: list[int],
        key: dict[str, Any],
    ) -> Iterator[list[dict[str, Any]]]:  # fmt: skip
        if not indices:
            return
        loader = DataLoader(
            Subset(dataset, indices), batch_size=self.batch_size, shuffle=False,
            num_workers=self.num_workers, collate_fn=eval_collate,
        )  # fmt: skip
        with torch.inference_mode():
            for batch in loader:
                yield _rows(protocol.predict(model, info, batch), dataset, key)

    def _write_cells(
        self, entry: ModelEntry, info: EvalSetInfo, dataset: Dataset, protocol: EvalProtocol,
        rows: list[dict[str, Any]], resumed: bool,
    ) -> list[Cell]:  # fmt: skip
        """Reduce the set's records to cells: this run's rows, or (after a resume) every stored row."""
        columns = ["sample_id", "label", "pred", "correct", "extra"]
        if resumed:
            records = self.store.predictions(
                run=self.run, model=entry.name, eval_set=info.name, protocol=protocol.key, step=self.step
            )
            ids = {dataset.sample_id(i) for i in range(len(dataset))}
            records = records[records["sample_id"].isin(ids)].reset_index(drop=True)
        else:
            records = pd.DataFrame(rows, columns=columns).drop_duplicates("sample_id")
        if len(records) != len(dataset):
            raise RuntimeError(
                f"{self.store.path}: {len(records)} of {len(dataset)} predictions stored for "
                f"{entry.name} / {info.name} / {protocol.key}; rerun to complete them"
            )
        base = {"family": entry.family, "role": entry.role, "spec": entry.spec}
        cells = [
            Cell(
                run=self.run,
                model=entry.name,
                eval_set=info.name,
                value=float(m.value),
                n=m.n,
                protocol=protocol.key,
                metric=name,
                step=self.step,
                extra={**base, **(m.extra or {})},
            )
            for name, m in protocol.metrics(records, info).items()
        ]
        self.store.put(cells)
        return cells

    def _bar(self, total: int, desc: str) -> Any:
        if not self.progress or total == 0:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit="sample", dynamic_ncols=True)
