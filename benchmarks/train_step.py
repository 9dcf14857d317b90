"""Training-step time: ``CLIPFineTune`` under a Lightning ``Trainer`` vs a bare PyTorch loop; FSDP2 vs DDP.

Run: ``.venv/bin/python benchmarks/train_step.py [--steps 6] [--warmup 2] [--rounds 3] [--batch-size 8]
[--arch ViT-B-32] [--threads N] [--skip-distributed] [--dist-rounds R] [--dist-threads T]``

One random-init ``open_clip:<arch>`` (``CLIPFineTune(model=..., model_seed=0)``, nothing downloaded), objective
``captions``, fp32 CPU, one fixed synthetic batch (seeded ``torch.randn`` images at the model's image size,
224 px for ViT-B-32, and ``--batch-size`` captions) fed ``--warmup + --steps + 1`` times:

- Lightning: ``Trainer(accelerator="cpu", devices=1, max_steps=..., logger=False, ...).fit`` of the module on a
  ``DataLoader`` that yields that dict as the batch (``batch_size=None``, identity collate);
- bare loop: the same module's scorer, the optimiser of ``CLIPFineTune.configure_optimizers`` rebuilt by hand
  (AdamW, weight decay on ``ndim >= 2`` weights only, the module's ``lr``/``betas``/``eps``; the same
  ``LambdaLR(warmup_cosine)`` schedule), ``zero_grad`` -> ``tokenize`` / ``encode_image`` / ``encode_text`` ->
  ``InfoNCE`` -> ``backward`` -> ``step`` -> scheduler step -> ``logit_scale.clamp_(0, ln 100)``, iterating
  the same kind of ``DataLoader``.

Two step times per step: *window*, Lightning's ``on_train_batch_start`` -> ``on_train_batch_end`` of a callback
(``training_step`` with its loss guard and logging, backward, optimiser and scheduler step; the module's own
``on_train_batch_end`` clamp runs after it) and the bare loop's ``zero_grad`` -> clamp; *period*, from the
start of step k to the start of step k+1 (everything either path does per step: fetching the batch, moving it
to the device, every hook). Warm-up steps are dropped. Each variant runs in its own Python process per round
and rounds alternate (Lightning, bare, Lightning, bare, ...), so drifting load hits both, and each variant's
peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss`` of its own process: imports, model, gradients, AdamW state,
activations) is its own. Both free the previous step's gradients before the forward: the bare loop by its
``zero_grad``, ``CLIPFineTune`` in ``on_train_batch_start`` (Lightning's own ``zero_grad`` comes between forward
and backward, when old gradients and new activations would coexist).

Prints the machine's 1-minute load average before and after each section (other processes on the cores make
step times noisy), medians over all timed steps of all rounds, the ratio Lightning / bare (target: <= 1.05),
and the largest loss difference between the two paths (same init, batch, optimiser and schedule: the same
losses).

Distributed (skip with ``--skip-distributed``): ``python -m torch.distributed.run --nproc-per-node 2`` of this
script, gloo, ``--dist-threads`` torch threads per rank, each rank fitting its half of the same global batch
(``use_distributed_sampler=False``) under Lightning ``strategy="ddp"`` and under
``vlmrobust.train.strategies.FSDP2Strategy(mixed_precision="fp32")``, alternating per round. A step's time
is the slowest rank's; peak RSS is the largest rank's. Prints the ratio FSDP2 / DDP, or ``FSDP2 unavailable:
<reason>`` (DDP is still reported).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CLAMP_MAX = 4.6052  # ln 100, CLIPFineTune.on_train_batch_end's bound on the stored log logit scale
SINGLE = ("lightning", "bare")
DISTRIBUTED = ("ddp", "fsdp2")
EXCEPTION_LINE = re.compile(r"^[\w.]*(Error|Exception|Interrupt)\b.*:")


# --- worker side (one variant, one process; under torchrun for ddp/fsdp2) --------------------------------------
def _rss_kib() -> int:
    """Current resident set size of this process in KiB (``VmRSS`` of ``/proc/self/status``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def _peak_rss_kib() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def _batch(batch_size: int, size: tuple[int, int], rank: int, world: int) -> dict[str, Any]:
    """This rank's rows of the fixed global batch (seeded: every process builds the same global batch)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    images = torch.randn(batch_size, 3, *size, generator=gen)
    captions = [
        f"a photo of synthetic object number {i}, seen from angle {7 * i % 360}" for i in range(batch_size)
    ]
    per = batch_size // world
    rows = slice(rank * per, (rank + 1) * per)
    return {"image": images[rows].contiguous(), "caption": captions[rows]}


def _same(batch: Any) -> Any:
    return batch  # the dataset item already is the whole batch


def _loader(batch: dict[str, Any], steps: int) -> Any:
    """A ``DataLoader`` yielding ``batch`` (the same dict) ``steps`` times, exactly as given."""
    from torch.utils.data import DataLoader, Dataset

    class RepeatBatch(Dataset):
        def __len__(self) -> int:
            return steps

        def __getitem__(self, index: int) -> dict[str, Any]:
            return batch

    return DataLoader(RepeatBatch(), batch_size=None, collate_fn=_same, num_workers=0)


def _run_lightning(
    args: argparse.Namespace, module: Any, batch: dict[str, Any], total: int, world: int
) -> dict[str, Any]:
    import lightning.pytorch as pl

    marks: dict[str, Any] = {"start": [], "end": [], "loss": [], "rss_start": -1}

    class StepTimer(pl.Callback):
        def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
            marks["rss_start"] = _rss_kib()

        def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
            marks["start"].append(time.perf_counter())

        def on_train_batch_end(
            self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, idx: int
        ) -> None:
            marks["end"].append(time.perf_counter())
            marks["loss"].append(float(outputs["loss"]))

    if args.worker == "fsdp2":
        from vlmrobust.train.strategies import FSDP2Strategy

        strategy: Any = FSDP2Strategy(mixed_precision="fp32", process_group_backend="gloo")
    else:
        strategy = "ddp" if args.worker == "ddp" else "auto"
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=world,
        strategy=strategy,
        max_steps=total,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        use_distributed_sampler=False,  # each rank's loader already yields its own rows
        callbacks=[StepTimer()],
    )
    trainer.fit(module, train_dataloaders=_loader(batch, total))
    if trainer.global_step != total:
        raise RuntimeError(f"Lightning ran {trainer.global_step} optimiser steps, expected {total}")
    return marks


def _run_bare(module: Any, batch: dict[str, Any], total: int) -> dict[str, Any]:
    from functools import partial

    import torch

    from vlmrobust.train.losses import InfoNCE
    from vlmrobust.train.schedules import warmup_cosine

    scorer, loss_fn, hp = module.scorer.train(), InfoNCE(), module.hparams
    decay, no_decay = [], []  # CLIPFineTune.configure_optimizers' groups
    for name, param in scorer.named_parameters():
        if param.requires_grad:
            exclude = param.ndim < 2 or "logit_scale" in name or "logit_bias" in name or "bn" in name
            (no_decay if exclude else decay).append(param)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=hp.lr,
        betas=hp.betas,
        eps=hp.eps,
    )
    schedule = partial(warmup_cosine, warmup_steps=hp.warmup_steps, total_steps=total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    marks: dict[str, Any] = {"start": [], "end": [], "loss": [], "rss_start": _rss_kib()}
    loader = iter(_loader(batch, total))
    for _ in range(total):
        marks["start"].append(time.perf_counter())  # the period includes fetching the batch, as in Lightning
        step_batch = next(loader)
        optimizer.zero_grad(set_to_none=True)
        tokens = scorer.tokenize(step_batch["caption"])
        image_features = scorer.encode_image(step_batch["image"], normalize=True)
        text_features = scorer.encode_text(tokens, normalize=True)
        loss = loss_fn(image_features, text_features, scorer.logit_scale, scorer.logit_bias)
        loss.backward()
        optimizer.step()
        scheduler.step()
        with torch.no_grad():
            scorer.model.logit_scale.clamp_(0, CLAMP_MAX)
        marks["end"].append(time.perf_counter())
        marks["loss"].append(float(loss))
    return marks


def worker(args: argparse.Namespace) -> None:
    """Run one variant for ``warmup + steps + 1`` steps and write its timings to ``args.out`` (JSON)."""
    import logging
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    total = args.warmup + args.steps + 1  # +1: the last timed step's period ends at the next step's start
    from vlmrobust.train.clip_finetune import CLIPFineTune

    module = CLIPFineTune(model=f"open_clip:{args.arch}", model_seed=0)
    size = getattr(module.scorer.model.visual, "image_size", 224)
    size = (size, size) if isinstance(size, int) else tuple(size)
    batch = _batch(args.batch_size, size, rank, world)
    if args.worker == "bare":
        marks = _run_bare(module, batch, total)
    else:
        marks = _run_lightning(args, module, batch, total, world)
    start, end = marks["start"], marks["end"]
    timed = range(args.warmup, args.warmup + args.steps)
    result = {
        "window": [end[i] - start[i] for i in timed],
        "period": [start[i + 1] - start[i] for i in timed],
        "loss": marks["loss"],
        "rss_start_kib": marks["rss_start"],
        "peak_rss_kib": _peak_rss_kib(),
        "threads": torch.get_num_threads(),
        "params": sum(p.numel() for p in module.parameters()),
        "image_size": list(size),
    }
    Path(f"{args.out}.rank{rank}.json").write_text(json.dumps(result))


# --- driver side -----------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _failure(done: subprocess.CompletedProcess[str]) -> str:
    """The last ``SomeError: message`` line a failed worker printed (torchrun's own wrapper error aside)."""
    lines = [
        re.sub(r"^\[(default)?rank\d+\]:\s?", "", ln).strip()
        for ln in (done.stderr + done.stdout).splitlines()
    ]
    errors = [ln for ln in lines if EXCEPTION_LINE.match(ln) and "ChildFailedError" not in ln]
    reason = (errors or [ln for ln in lines if ln] or [f"exit code {done.returncode}"])[-1]
    return reason if len(reason) <= 300 else reason[:297] + "..."


def _launch(variant: str, args: argparse.Namespace, tmp: Path, tag: str) -> dict[str, Any]:
    """Run ``variant`` in fresh process(es); combine ranks: a step takes the slowest rank's time."""
    script = str(Path(__file__).resolve())
    common = ["--worker", variant, "--arch", args.arch, "--batch-size", str(args.batch_size),
              "--steps", str(args.steps), "--warmup", str(args.warmup), "--out", str(tmp / tag)]  # fmt: skip
    env = dict(os.environ)
    if variant in DISTRIBUTED:
        threads = args.dist_threads
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(args.nproc),
               "--master-port", str(_free_port()), script, *common, "--threads", str(threads)]  # fmt: skip
        env["OMP_NUM_THREADS"] = str(threads)
        ranks = args.nproc
    else:
        cmd = [sys.executable, script, *common, "--threads", str(args.threads)]
        ranks = 1
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=args.timeout)
    if done.returncode != 0:
        raise RuntimeError(_failure(done))
    parts = [json.loads((tmp / f"{tag}.rank{r}.json").read_text()) for r in range(ranks)]
    return {
        "window": [max(s) for s in zip(*(p["window"] for p in parts), strict=True)],
        "period": [max(s) for s in zip(*(p["period"] for p in parts), strict=True)],
        "loss": parts[0]["loss"],
        "rss_start_kib": max(p["rss_start_kib"] for p in parts),
        "peak_rss_kib": max(p["peak_rss_kib"] for p in parts),
        "threads": parts[0]["threads"],
        "params": parts[0]["params"],
        "image_size": parts[0]["image_size"],
    }


def _interleaved(variants: tuple[str, ...], args: argparse.Namespace, rounds: int) -> dict[str, Any]:
    """Each variant once per round, in order; a variant that fails is dropped with its reason."""
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for v in variants:
                if v in failed:
                    continue
                t0 = time.perf_counter()
                try:
                    runs[v].append(_launch(v, args, Path(tmp), f"{v}{r}"))
                except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError) as err:
                    failed[v] = str(err)
                print(f"  round {r + 1}/{rounds} {v:9s} {time.perf_counter() - t0:6.1f} s wall"
                      + (f"  FAILED: {failed[v]}" if v in failed else ""), file=sys.stderr, flush=True)  # fmt: skip
    return {"runs": runs, "failed": failed}


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    window = [t for run in runs for t in run["window"]]
    period = [t for run in runs for t in run["period"]]
    return {
        "window": statistics.median(window),
        "period": statistics.median(period),
        "round_periods": [statistics.median(run["period"]) for run in runs],
        "peak_rss": max(run["peak_rss_kib"] for run in runs) / 1024**2,  # GiB
        "rss_start": max(run["rss_start_kib"] for run in runs) / 1024**2,
        "loss": runs[-1]["loss"],
        "threads": runs[0]["threads"],
        "params": runs[0]["params"],
        "image_size": runs[0]["image_size"],
        "n": len(period),
    }


def _row(name: str, s: dict[str, Any]) -> str:
    rounds = " ".join(f"{t:.3f}" for t in s["round_periods"])
    return (f"{name:14s} {s['window']:9.3f} {s['period']:9.3f}   [{rounds}]   {s['peak_rss']:6.2f} GiB "
            f"{s['rss_start']:6.2f} GiB   {s['loss'][-1]:.6f}")  # fmt: skip


HEADER = f"{'':14s} {'window s':>9s} {'period s':>9s}   [period median per round]   peak RSS  RSS@step1   last loss"


def _max_diff(a: list[float], b: list[float]) -> float:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def main() -> None:
    cores = len(os.sched_getaffinity(0))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="ViT-B-32", help="open_clip architecture (random init)")
    parser.add_argument("--batch-size", type=int, default=8, help="global batch size (split across ranks)")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per variant per round")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps before them")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (single process)")
    parser.add_argument("--threads", type=int, default=cores, help="torch threads (single process)")
    parser.add_argument("--skip-distributed", action="store_true", help="skip the DDP / FSDP2 section")
    parser.add_argument(
        "--dist-rounds", type=int, default=None, help="interleaved rounds (default: --rounds)"
    )
    parser.add_argument("--nproc", type=int, default=2, help="CPU ranks of the distributed section")
    parser.add_argument(
        "--dist-threads", type=int, default=None, help="torch threads per rank (default: cores / nproc)"
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per launched process")
    parser.add_argument("--worker", choices=SINGLE + DISTRIBUTED, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.dist_threads is None:
        args.dist_threads = max(1, cores // args.nproc)
    if args.batch_size % args.nproc and not args.skip_distributed:
        parser.error(f"--batch-size {args.batch_size} does not split into {args.nproc} equal rank batches")
    spec = f"open_clip:{args.arch}"
    steps = f"{args.steps} timed steps (+{args.warmup} warm-up) per variant per round"

    load = os.getloadavg()[0]
    single = _interleaved(SINGLE, args, args.rounds)
    if single["failed"]:
        raise SystemExit(f"single-process benchmark failed: {single['failed']}")
    light, bare = (_summary(single["runs"][v]) for v in SINGLE)
    h, w = light["image_size"]
    print(f"{spec} (random init, {light['params'] / 1e6:.1f} M parameters), batch {args.batch_size} x 3 x {h} x {w}, fp32 CPU, {light['threads']} torch threads; "
          f"{args.rounds} rounds x {steps}, each variant in its own process, rounds interleaved; "
          f"1-min load average {load:.2f} before, {os.getloadavg()[0]:.2f} after, on {cores} cores")  # fmt: skip
    print("window: Lightning on_train_batch_start -> on_train_batch_end / bare zero_grad -> clamp; "
          "period: start of step k -> start of step k+1 (all per-step work); medians over all timed steps")  # fmt: skip
    print(HEADER)
    print(_row("Lightning", light))
    print(_row("bare PyTorch", bare))
    print(f"ratio Lightning / bare: window {light['window'] / bare['window']:.3f}, "
          f"period {light['period'] / bare['period']:.3f} (target <= 1.05)")  # fmt: skip
    print(f"same losses on every step: max |Lightning - bare| = {_max_diff(light['loss'], bare['loss']):.2e} "
          f"over {len(light['loss'])} steps")  # fmt: skip
    print("memory: peak RSS = ru_maxrss of the variant's own process, max over its rounds (imports, model, "
          "grads, AdamW state, activations); RSS@step1 = VmRSS after setup, before the first step; both free "
          "the old gradients before the forward")  # fmt: skip

    if args.skip_distributed:
        return
    rounds = args.dist_rounds if args.dist_rounds is not None else args.rounds
    load = os.getloadavg()[0]
    dist = _interleaved(DISTRIBUTED, args, rounds)
    per_rank = args.batch_size // args.nproc
    print()
    print(f"distributed: {args.nproc} CPU ranks (torchrun, gloo), global batch {args.batch_size} = "
          f"{args.nproc} x {per_rank}, {args.dist_threads} torch thread(s) per rank; {rounds} rounds x {steps}; "
          "a step's time is the slowest rank's, memory the largest rank's; "
          f"1-min load average {load:.2f} before, {os.getloadavg()[0]:.2f} after")  # fmt: skip
    if "ddp" in dist["failed"]:
        print(f"DDP failed: {dist['failed']['ddp']}")
    if "fsdp2" in dist["failed"]:
        print(f"FSDP2 unavailable: {dist['failed']['fsdp2']}")
    done = {v: _summary(dist["runs"][v]) for v in DISTRIBUTED if v not in dist["failed"]}
    if done:
        print(HEADER)
    for v, name in (("ddp", "DDP"), ("fsdp2", "FSDP2 fp32")):
        if v in done:
            print(_row(name, done[v]))
    if len(done) == 2:
        ddp, fsdp2 = done["ddp"], done["fsdp2"]
        print(f"ratio FSDP2 / DDP: window {fsdp2['window'] / ddp['window']:.3f}, "
              f"period {fsdp2['period'] / ddp['period']:.3f}")  # fmt: skip
        print(f"same losses on every step: max |FSDP2 - DDP| = {_max_diff(fsdp2['loss'], ddp['loss']):.2e}, "
              f"max |DDP - single-process Lightning| = {_max_diff(ddp['loss'], light['loss']):.2e}")  # fmt: skip


if __name__ == "__main__":
    main()
