"""FSDP2 for every recipe (``vlmrobust.train.strategies``): block detection, and 2 CPU ranks (gloo, torchrun)
under DDP and FSDP2 reproducing the single-process loss curve of the real CLIP fine-tuning recipe, bf16 with
activation checkpointing, and sharded / consolidated checkpoints that restore exactly."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from vlmrobust.train.strategies import FSDP2Strategy, find_blocks, shard_blocks

ROOT = Path(__file__).parents[2]
SCRIPT = Path(__file__).parent / "scripts" / "fsdp2_fit.py"
CONFIG = ROOT / "configs" / "fit" / "quickstart.yaml"
GLOBAL_BATCH = 8  # one process: 8; two ranks: 4 each
TWO_RANK_RUNS = [
    "ddp",
    "fsdp2",
    "restore:fsdp2",
    "restore:single",
    "fsdp2_bf16_ac",
    "restore:fsdp2_bf16_ac",
    "toys",
]


# --- block detection -------------------------------------------------------------------------------------
class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm, self.fc = nn.LayerNorm(4), nn.Linear(4, 4)
        self.experts = nn.ModuleList(nn.Sequential(nn.Linear(4, 4), nn.ReLU()) for _ in range(2))


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.h = nn.ModuleList(_Block() for _ in range(3))  # blocks (their inner `experts` are not searched)
        self.mlp = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 4))  # mixed classes: not blocks
        self.heads = nn.ModuleList(nn.Linear(4, 2) for _ in range(2))  # bare layers: not blocks
        self.scale = nn.Parameter(torch.ones([]))


def test_find_blocks_finds_exactly_the_transformer_blocks_of_the_tiny_open_clip() -> None:
    from vlmrobust.train.clip_finetune import CLIPFineTune

    module = CLIPFineTune(model="open_clip:vlmrobust-tiny-clip", model_seed=0)
    clip = module.scorer.model
    expected = [*clip.visual.transformer.resblocks, *clip.transformer.resblocks]
    blocks = find_blocks(module)
    assert len(blocks) == len(clip.transformer.resblocks) + len(clip.visual.transformer.resblocks) == 4
    assert {id(b) for b in blocks} == {id(b) for b in expected}
    assert [id(b) for b in find_blocks(clip)] == [id(b) for b in blocks]


def test_find_blocks_rule_on_a_generic_module() -> None:
    net = _Net()
    assert [id(b) for b in find_blocks(net)] == [id(b) for b in net.h]


def test_shard_blocks_names_a_module_without_blocks() -> None:
    mlp = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 4))
    with pytest.raises(ValueError, match=r"no transformer blocks in Sequential: expected open_clip"):
        shard_blocks(mlp, mesh=None)  # raised before the mesh is used
    with pytest.raises(ValueError, match="unknown mixed_precision 'fp16'; valid: 'fp32', 'bf16'"):
        FSDP2Strategy(mixed_precision="fp16")  # type: ignore[arg-type]


_CLASS_PATH = ["--trainer.strategy", "vlmrobust.train.strategies.FSDP2Strategy"]
_INIT_ARGS = [
    "--trainer.strategy.mixed_precision",
    "fp32",
    "--trainer.strategy.activation_checkpointing",
    "true",
]


# bare class path / short name: StrategyRegistry names registered on import (Lightning lower-cases them)
@pytest.mark.parametrize("flags", [_CLASS_PATH, ["--trainer.strategy", "fsdp2"], _CLASS_PATH + _INIT_ARGS])
def test_the_cli_takes_the_strategy_by_class_path(flags: list[str], tmp_path: Path) -> None:
    from vlmrobust.train.cli import VlmrobustCLI

    cli = VlmrobustCLI(
        args=["--config", str(CONFIG), "--trainer.logger", "false", "--trainer.default_root_dir", str(tmp_path),
              "--trainer.accelerator", "cpu", "--trainer.callbacks.init_args.results_db",
              str(tmp_path / "results.db"), *flags],
        run=False,
    )  # fmt: skip
    strategy = cli.trainer.strategy
    assert isinstance(strategy, FSDP2Strategy)
    assert strategy.mixed_precision == ("fp32" if "fp32" in flags else "bf16")
    assert strategy.activation_checkpointing == ("true" in flags)


# --- 2 CPU ranks against one process ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def worker():
    """The worker script as a module (its runs, toy modules and data)."""
    spec = importlib.util.spec_from_file_location("_fsdp2_fit", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, worker) -> Path:
    """Output folder of the single-process reference (in this process) and of the 2-rank runs (one torchrun)."""
    out = tmp_path_factory.mktemp("fsdp2")
    worker.main(["--out", str(out), "--batch-size", str(GLOBAL_BATCH), "single"])
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(_free_port()),
           str(SCRIPT), "--out", str(out), "--batch-size", str(GLOBAL_BATCH // 2), *TWO_RANK_RUNS]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    done = subprocess.run(cmd, env=env, cwd=out, capture_output=True, text=True, timeout=270)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def _report(out: Path, run: str, rank: int = 0) -> dict:
    return json.loads((out / run / f"rank{rank}.json").read_text())


def _weights(out: Path, run: str) -> dict[str, torch.Tensor]:
    return torch.load(out / run / "weights.pt", weights_only=True)


@pytest.mark.slow
@pytest.mark.parametrize("run", ["ddp", "fsdp2"])
def test_two_cpu_ranks_reproduce_the_single_process_loss_curve(runs: Path, run: str) -> None:
    """Same global batch of 8 (1 x 8 vs 2 x 4, the same samples at every step), fp32: every rank's loss
    (the global InfoNCE, features all-gathered with gradients) is the single-process one within 1e-5."""
    single = _report(runs, "single")["steps"]
    ranks = [_report(runs, run, r) for r in range(2)]
    assert len(single) == 10 and all(len(r["steps"]) == 10 for r in ranks)
    for step, reference in enumerate(single):
        got = [r["steps"][step] for r in ranks]
        assert sorted(got[0]["index"] + got[1]["index"]) == sorted(reference["index"]), step
        for rank, record in enumerate(got):
            assert abs(record["loss"] - reference["loss"]) < 1e-5, (run, step, rank, record, reference)
    assert single[-1]["loss"] < single[0]["loss"] - 0.2  # it trains: the curve is not flat
    if run == "fsdp2":  # 4 blocks + the LightningModule root; every parameter sharded
        assert ranks[0]["fsdp_modules"] == 5 and ranks[0]["dtensor_params"] == ranks[0]["params"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("run", ["ddp", "fsdp2", "fsdp2_bf16_ac"])
def test_export_writes_the_full_model_under_every_strategy(runs: Path, run: str) -> None:
    """ExportModel gathers the shards on rank 0: model.safetensors is the unsharded model (0-dim logit scale)."""
    from safetensors.torch import load_file

    exported = load_file(str(runs / run / "model.safetensors"))
    full = {
        k.removeprefix("scorer.model."): v
        for k, v in _weights(runs, run).items()
        if k.startswith("scorer.model.")
    }
    assert exported.keys() == full.keys() and exported["logit_scale"].shape == ()
    assert all(torch.equal(exported[k], full[k].to(exported[k].dtype)) for k in full)


@pytest.mark.slow
def test_fsdp2_gradients_are_ddp_gradients(runs: Path) -> None:
    """After 10 AdamW steps the FSDP2 weights are DDP's (reduce-scatter averages as DDP's all-reduce)."""
    ddp, fsdp2 = _weights(runs, "ddp"), _weights(runs, "fsdp2")
    assert ddp.keys() == fsdp2.keys()
    for key, value in ddp.items():
        torch.testing.assert_close(fsdp2[key], value, atol=1e-6, rtol=0, msg=key)
    single = _weights(runs, "single")
    assert {k: v.shape for k, v in single.items()} == {k: v.shape for k, v in fsdp2.items()}


@pytest.mark.slow
def test_fsdp2_bf16_with_activation_checkpointing_trains_finite(runs: Path) -> None:
    report = _report(runs, "fsdp2_bf16_ac")
    assert report["checkpoint_wrapped"] == 4 and report["fsdp_modules"] == 5
    losses = [s["loss"] for s in report["steps"]]
    reference = [s["loss"] for s in _report(runs, "single")["steps"][:2]]  # the same two global batches, fp32
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    assert losses == pytest.approx(reference, abs=0.05)  # bfloat16 compute, float32 reduction
    assert all(torch.isfinite(v).all() for v in _weights(runs, "fsdp2_bf16_ac").values())


@pytest.mark.slow
def test_fsdp2_checkpoints_sharded_and_consolidated_save_and_restore(runs: Path) -> None:
    sharded = runs / "fsdp2_bf16_ac" / "last.ckpt"  # save_distributed_checkpoint=True: one shard per rank
    assert sharded.is_dir()
    assert {p.name for p in sharded.iterdir()} == {".metadata", "meta.pt", "__0_0.distcp", "__1_0.distcp"}
    # save_distributed_checkpoint=False: one file laid out as the single-process checkpoint
    consolidated = torch.load(runs / "fsdp2" / "last.ckpt", weights_only=True)
    reference = torch.load(runs / "single" / "last.ckpt", weights_only=True)
    assert consolidated.keys() == reference.keys() and consolidated["global_step"] == 10
    shapes = {k: v.shape for k, v in reference["state_dict"].items()}
    assert {k: v.shape for k, v in consolidated["state_dict"].items()} == shapes  # logit_scale 0-dim again
    for key, value in _weights(runs, "fsdp2").items():
        torch.testing.assert_close(consolidated["state_dict"][key], value, atol=0, rtol=0, msg=key)
    got, ref = consolidated["optimizer_states"][0], reference["optimizer_states"][0]
    assert [g["params"] for g in got["param_groups"]] == [g["params"] for g in ref["param_groups"]]
    assert {i: s["exp_avg"].shape for i, s in got["state"].items()} == {
        i: s["exp_avg"].shape for i, s in ref["state"].items()
    }
    # fit(ckpt_path=...) under FSDP2 of a differently seeded model restores exactly: from the sharded folder,
    # from the consolidated file, and from the single-process checkpoint
    for run in ("fsdp2_bf16_ac", "fsdp2", "single"):
        saved, restored = _weights(runs, run), _weights(runs, f"restore_{run}")
        assert _report(runs, f"restore_{run}")["global_step"] == _report(runs, run)["global_step"]
        assert saved.keys() == restored.keys()
        for key, value in saved.items():
            torch.testing.assert_close(restored[key], value, atol=0, rtol=0, msg=(run, key))
        saved_opt = torch.load(runs / run / "optimizer.pt", weights_only=True)
        restored_opt = torch.load(runs / f"restore_{run}" / "optimizer.pt", weights_only=True)
        assert saved_opt.keys() == restored_opt.keys() and len(saved_opt) == len(saved)  # AdamW state of each
        for name, state in saved_opt.items():
            for key, value in state.items():
                torch.testing.assert_close(
                    restored_opt[name][key], value, atol=0, rtol=0, msg=(run, name, key)
                )


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "fsdp_modules"), [("self_call", 4), ("no_blocks", 1), ("self_sharded", 3)])
def test_fsdp2_runs_other_lightning_modules(runs: Path, worker, kind: str, fsdp_modules: int) -> None:
    """A module whose step calls ``self(x)``, one without blocks (one FSDP group, a warning) and one whose
    ``configure_model`` shards itself (not sharded again) train as a bare PyTorch loop does (both ranks see
    the same batches, so the averaged gradient is the one-process gradient)."""
    model = worker.ToyModule(kind)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = worker.toy_data()
    expected = []
    for step in range(3):
        rows = slice(4 * step, 4 * step + 4)
        loss = torch.nn.functional.mse_loss(model.forward(x[rows]) * model.temperature, y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        expected.append(float(loss))
    for rank in range(2):
        report = _report(runs, f"toy_{kind}", rank)
        assert report["fsdp_modules"] == fsdp_modules and report["dtensor_params"] == report["params"]
        assert report["steps"] == pytest.approx(expected, abs=1e-6)
