"""Worker of ``tests/train/test_fsdp2.py``: fit the real CLIP fine-tuning recipe (``CLIPFineTune`` on the
procedural world) for a few steps under each named run, recording every step's ``train/loss`` and sample
indices, the final weights and a checkpoint, and reloading checkpoints into FSDP2.

One process (the reference)::

    python tests/train/scripts/fsdp2_fit.py --out DIR --batch-size 8 single

Two CPU ranks (gloo), several runs in one process group::

    python -m torch.distributed.run --nproc-per-node 2 tests/train/scripts/fsdp2_fit.py --out DIR \
        --batch-size 4 ddp fsdp2 restore:fsdp2 restore:single fsdp2_bf16_ac restore:fsdp2_bf16_ac toys

``--batch-size`` is per rank, so global batch = world size x batch size. Each run writes
``DIR/<run>/rank<r>.json``; rank 0 writes ``DIR/<run>/weights.pt`` (full state dict, unsharded shapes),
``DIR/<run>/optimizer.pt`` (gathered AdamW state by parameter name) and,
for ``single``/``fsdp2*``, ``trainer.save_checkpoint(DIR/<run>/last.ckpt)`` (``fsdp2``: one consolidated file,
``fsdp2_bf16_ac``: a sharded folder). ``restore:<run>`` builds a differently seeded model, fits it under FSDP2
with ``ckpt_path=DIR/<run>/last.ckpt`` and ``max_steps`` = the steps already done (nothing left to train) and
writes the restored states to ``DIR/restore_<run>/``. ``toys`` fits three small LightningModules of other
shapes (``ToyModule``) under FSDP2 into ``DIR/toy_<kind>/``.

Same global batches: every run takes the recipe's own training loader (the world DataModule's shuffled,
seeded order for epoch 0 and its dataset) and feeds it through an explicit sampler with Lightning's sampler
injection off (``use_distributed_sampler=False``): rank r of W gets, for every global batch k of the
recipe's order, its r-th slice of W (``order[k*B + r*b : k*B + (r+1)*b]``, b = B / W). One process (W = 1)
sees the recipe's batches unchanged; two ranks together see exactly the same samples at every step,
whatever sampler the recipe uses. Training images use the eval transform: random crops would otherwise
have to be drawn identically on every rank.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from vlmrobust.data.datamodules import WorldDataModule
from vlmrobust.train.clip_finetune import CLIPFineTune
from vlmrobust.train.export import ExportModel
from vlmrobust.train.strategies import FSDP2Strategy

DATA_STEPS = 10  # the training set holds 10 global batches in every run (runs of fewer steps see its start)
RUNS: dict[str, dict[str, Any]] = {
    "single": {"strategy": "single", "steps": 10},
    "ddp": {"strategy": "ddp", "steps": 10},
    "fsdp2": {"strategy": "fsdp2", "steps": 10, "mixed_precision": "fp32", "consolidated": True},
    "fsdp2_bf16_ac": {
        "strategy": "fsdp2",
        "steps": 2,
        "mixed_precision": "bf16",
        "activation_checkpointing": True,
    },
}


class ExactWorld(WorldDataModule):
    """The world DataModule with deterministic training images, whose training loader gives this rank its
    slice of every global batch of the recipe's own epoch-0 order (see the module docstring)."""

    def set_image_transforms(self, train: Any, eval: Any) -> None:
        super().set_image_transforms(eval, eval)  # no random crop: ranks would have to draw the same ones

    def train_dataloader(self) -> DataLoader:
        recipe = super().train_dataloader()
        order = list(recipe.sampler)  # epoch 0's keys (indices, or whatever the recipe's dataset takes)
        rank, world = self.trainer.global_rank, self.trainer.world_size
        b = self.batch_size  # per rank
        mine = [key for start in range(0, len(order), b * world) for key in order[start + rank * b :][:b]]
        return DataLoader(recipe.dataset, batch_size=b, sampler=mine, collate_fn=recipe.collate_fn)


class RecordSteps(pl.Callback):
    """This rank's loss and sample indices of every training step."""

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: Any, outputs: Any, batch: Any, idx: int
    ) -> None:
        index = [int(i) for i in batch["index"]] if isinstance(batch, dict) else []
        self.steps.append({"loss": float(outputs["loss"]), "index": index})


def _strategy(spec: dict[str, Any]) -> Any:
    if spec["strategy"] == "fsdp2":
        return FSDP2Strategy(
            mixed_precision=spec.get("mixed_precision", "fp32"),
            activation_checkpointing=spec.get("activation_checkpointing", False),
            save_distributed_checkpoint=not spec.get("consolidated", False),
            process_group_backend="gloo",
        )
    return {"ddp": "ddp", "single": "auto"}[spec["strategy"]]


def _full_weights(trainer: pl.Trainer) -> dict[str, torch.Tensor]:
    """The full state dict with the unsharded module's shapes (rank 0; FSDP2: gathered from the shards)."""
    if isinstance(trainer.strategy, FSDP2Strategy):
        return trainer.strategy.consolidated_state_dict()
    return {k: v.detach().clone() for k, v in trainer.lightning_module.state_dict().items()}


def _full_optimizer_state(trainer: pl.Trainer) -> dict[str, dict[str, torch.Tensor]]:
    """Per-parameter optimizer state keyed by parameter name, gathered (rank 0), tensors flattened to 1-D."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    model, optimizer = trainer.strategy.model, trainer.optimizers[0]
    state = get_optimizer_state_dict(model, optimizer, options=options).get("state", {})
    return {name: {k: torch.as_tensor(v).reshape(-1) for k, v in s.items()} for name, s in state.items()}


def _trainer(spec: dict[str, Any], steps: int, callbacks: list[pl.Callback]) -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        devices=int(os.environ.get("WORLD_SIZE", "1")),
        strategy=_strategy(spec),
        max_steps=steps,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        use_distributed_sampler=False,  # ExactWorld splits the global batches itself
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=callbacks,
    )


def _model(seed: int) -> CLIPFineTune:
    return CLIPFineTune(model="open_clip:vlmrobust-tiny-clip", model_seed=seed, lr=1e-3, warmup_steps=2)


def _write(out: Path, trainer: pl.Trainer, report: dict[str, Any]) -> None:
    from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointWrapper
    from torch.distributed.fsdp import FSDPModule
    from torch.distributed.tensor import DTensor

    module = trainer.lightning_module
    report |= {
        "world": trainer.world_size,
        "global_step": trainer.global_step,
        "fsdp_modules": sum(isinstance(m, FSDPModule) for m in module.modules()),
        "checkpoint_wrapped": sum(isinstance(m, CheckpointWrapper) for m in module.modules()),
        "dtensor_params": sum(isinstance(p, DTensor) for p in module.parameters()),
        "params": sum(1 for _ in module.parameters()),
    }
    weights = _full_weights(trainer)
    optimizer = _full_optimizer_state(trainer)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"rank{trainer.global_rank}.json").write_text(json.dumps(report))
    if trainer.global_rank == 0:
        torch.save(weights, out / "weights.pt")
        torch.save(optimizer, out / "optimizer.pt")


def fit(name: str, out: Path, batch_size: int) -> None:
    """Run ``RUNS[name]`` and write its records under ``out / name``."""
    spec = RUNS[name]
    world = int(os.environ.get("WORLD_SIZE", "1"))
    record = RecordSteps()
    export = ExportModel(dirpath=str(out / name))  # the consolidated model.safetensors, under every strategy
    trainer = _trainer(spec, spec["steps"], [record, export])
    data = ExactWorld(train_size=DATA_STEPS * batch_size * world, batch_size=batch_size)
    trainer.fit(_model(seed=0), datamodule=data)
    _write(out / name, trainer, {"steps": record.steps})
    if spec["strategy"] != "ddp":
        trainer.save_checkpoint(out / name / "last.ckpt")


def restore(name: str, out: Path, batch_size: int) -> None:
    """Fit a differently seeded model under FSDP2 from ``out / name / last.ckpt`` with nothing left to train."""
    spec = RUNS[name]
    fsdp = spec if spec["strategy"] == "fsdp2" else {"strategy": "fsdp2", "mixed_precision": "fp32"}
    trainer = _trainer(fsdp, spec["steps"], [])
    data = ExactWorld(train_size=DATA_STEPS * batch_size * trainer.world_size, batch_size=batch_size)
    trainer.fit(_model(seed=1), datamodule=data, ckpt_path=out / name / "last.ckpt", weights_only=True)
    _write(out / f"restore_{name}", trainer, {})


class _Block(torch.nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm, self.fc = torch.nn.LayerNorm(width), torch.nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc(self.norm(x))


class ToyModule(pl.LightningModule):
    """A regression LightningModule of another shape than the recipe's: ``kind`` = ``self_call`` (blocks in
    ``layers``, ``training_step`` goes through ``self(x)``), ``no_blocks`` (one ``Linear``) or
    ``self_sharded`` (its ``configure_model`` applies ``fully_shard`` itself: the strategy must not again)."""

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            if kind == "no_blocks":
                self.layers = torch.nn.Linear(8, 8)
            else:
                self.layers = torch.nn.ModuleList(_Block(8) for _ in range(3))
            # 0-dim, unsqueezed by the strategy; a module sharding itself must give fully_shard a 1-D one
            self.temperature = torch.nn.Parameter(torch.ones([1] if kind == "self_sharded" else []))

    def configure_model(self) -> None:
        if self.kind == "self_sharded":
            from torch.distributed.fsdp import fully_shard

            mesh = self.device_mesh["data_parallel"]
            for block in self.layers[:2]:  # two of three blocks, then the root
                fully_shard(block, mesh=mesh)
            fully_shard(self, mesh=mesh)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if isinstance(self.layers, torch.nn.Linear):
            return self.layers(x)
        for block in self.layers:
            x = block(x)
        return x

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        out = self(x) if self.kind == "self_call" else self.forward(x)
        loss = torch.nn.functional.mse_loss(out * self.temperature, y)
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


TOY_KINDS = ("self_call", "no_blocks", "self_sharded")


def toy_data() -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets [24, 8] of the toy regression (every rank sees all of it, 4 rows a step)."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn(24, 8, generator=gen), torch.randn(24, 8, generator=gen)


def toys(out: Path) -> None:
    """Fit each ``ToyModule`` kind for 3 steps under FSDP2 (fp32) and record its losses and structure."""
    from torch.utils.data import TensorDataset

    data = TensorDataset(*toy_data())
    for kind in TOY_KINDS:
        record = RecordSteps()
        trainer = _trainer({"strategy": "fsdp2", "mixed_precision": "fp32"}, 3, [record])
        loader = DataLoader(data, batch_size=4)
        model = ToyModule(kind)
        trainer.fit(model, train_dataloaders=loader)
        _write(out / f"toy_{kind}", trainer, {"steps": [s["loss"] for s in record.steps]})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--batch-size", type=int, required=True, help="per-rank batch size")
    parser.add_argument("runs", nargs="+", help=f"runs in order: {', '.join(RUNS)} or restore:<run>")
    args = parser.parse_args(argv)
    for run in args.runs:
        start = time.perf_counter()
        if run == "toys":
            toys(args.out)
        elif run.startswith("restore:"):
            restore(run.removeprefix("restore:"), args.out, args.batch_size)
        else:
            fit(run, args.out, args.batch_size)
        print(f"run {run}: {time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main()
