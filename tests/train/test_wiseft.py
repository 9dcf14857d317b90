"""WiSE-FT: every α is validated and stored as its own run; α = 0 is the zero-shot model, α = 1 the
fine-tuned one; θ_start survives a resume; each θ(α) can be exported as a model spec."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from safetensors.torch import load_file

from vlmrobust.core.store import ResultsStore
from vlmrobust.data.datamodules import WorldDataModule
from vlmrobust.eval.models import ModelEntry
from vlmrobust.eval.protocols import ZeroShotClassification
from vlmrobust.eval.robustness_callback import RobustnessCallback
from vlmrobust.eval.runner import EvalData, EvalRunner
from vlmrobust.train.clip_finetune import CLIPFineTune
from vlmrobust.train.export import ExportModel
from vlmrobust.train.wiseft import WiseFT

DATA = {"seed": 0, "train_size": 32, "eval_size": 16, "batch_size": 8, "shifts": ["sketch"]}
CONFIG = Path(__file__).parents[2] / "configs" / "fit" / "quickstart.yaml"


def _trainer(root: Path, callbacks: list, steps: int = 4, **kw) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", max_steps=steps, logger=False, enable_progress_bar=False,
                      enable_model_summary=False, num_sanity_val_steps=0, default_root_dir=root,
                      callbacks=callbacks, **{"enable_checkpointing": False, "limit_val_batches": 0, **kw})  # fmt: skip


def _top1(store: ResultsStore, run: str) -> dict[str, float]:
    cells = store.cells(run=run, metric="top1")
    return dict(zip(cells["eval_set"], cells["value"], strict=True))


@pytest.mark.slow
def test_alpha_0_is_zero_shot_alpha_1_fine_tuned_each_alpha_its_own_run(tmp_path) -> None:
    db = tmp_path / "results.db"
    module = CLIPFineTune(lr=1e-2, warmup_steps=1, model_seed=0)
    zero_shot = RobustnessCallback(results_db=str(db), run_name="zs", print_table=False)
    _trainer(tmp_path, [zero_shot], limit_val_batches=None).validate(
        module, WorldDataModule(**DATA), verbose=False
    )

    robustness = RobustnessCallback(results_db=str(db), run_name="ft", print_table=False)
    wise_ft = WiseFT(alphas=[0.0, 0.5, 1.0], export=True)
    export = ExportModel(dirpath=str(tmp_path / "export"))
    trainer = _trainer(tmp_path, [export, wise_ft, robustness], limit_val_batches=None, val_check_interval=4)
    dm = WorldDataModule(**DATA)
    trainer.fit(module, datamodule=dm)
    fine_tuned_run = robustness.run
    runs = wise_ft.evaluate(trainer, module, dm)
    store = ResultsStore(db)
    assert len(set(runs.values())) == 3 and fine_tuned_run not in runs.values()
    assert {runs[a].rsplit("-", 1)[0] for a in runs} == {"ft-wiseft0", "ft-wiseft0.5", "ft-wiseft1"}
    zs, ft = _top1(store, zero_shot.run), _top1(store, fine_tuned_run)
    assert _top1(store, runs[0.0]) == zs  # exactly the zero-shot accuracies
    assert _top1(store, runs[1.0]) == ft  # exactly the fine-tuned ones
    assert set(store.cells(run=runs[0.5])["step"]) == {4}  # stored at the fit's final step
    recorded = store.runs().set_index("run")
    assert recorded.loc[runs[0.5], "config"]["wise_ft_alpha"] == 0.5

    tuned = load_file(str(export.path))  # θ_end is back in the module and in the export
    assert all(torch.equal(v, module.scorer.model.state_dict()[k]) for k, v in tuned.items())
    half = load_file(str(wise_ft.paths[0.5]))
    key = "text_projection"
    start = wise_ft.start[f"scorer.model.{key}"]
    assert not torch.equal(start, tuned[key])
    torch.testing.assert_close((start + tuned[key]) / 2, half[key], atol=1e-6, rtol=0)
    runner = EvalRunner(str(tmp_path / "eval.db"), run="alpha-0", batch_size=8, progress=False)
    report = runner.evaluate([ModelEntry(f"open_clip:vlmrobust-tiny-clip@{wise_ft.paths[0.0]}")],
                             EvalData(WorldDataModule(**DATA)), [ZeroShotClassification()])  # fmt: skip
    assert {c.eval_set: c.value for c in report.cells if c.metric == "top1"} == zs


def test_start_weights_survive_a_resume(tmp_path) -> None:
    def fit(steps: int, ckpt: str | None, wise_ft: WiseFT) -> CLIPFineTune:
        module = CLIPFineTune(lr=1e-2, warmup_steps=1, model_seed=0)
        trainer = _trainer(tmp_path, [wise_ft], steps=steps, enable_checkpointing=True)
        trainer.fit(module, datamodule=WorldDataModule(**DATA), ckpt_path=ckpt)
        return module

    first = WiseFT()
    fit(2, None, first)
    [ckpt] = sorted(tmp_path.rglob("*.ckpt"))
    resumed = WiseFT()
    module = fit(4, str(ckpt), resumed)
    assert resumed.start.keys() == first.start.keys()
    assert all(torch.equal(resumed.start[k], first.start[k]) for k in first.start)
    fresh = CLIPFineTune(model_seed=0).state_dict()  # θ_start is the untrained model, not the checkpoint's
    assert all(torch.equal(fresh[k], first.start[k]) for k in fresh)
    assert not torch.equal(
        module.scorer.model.text_projection.detach(), fresh["scorer.model.text_projection"]
    )


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        WiseFT(alphas=[0.5, 1.5])
    trainer = pl.Trainer(accelerator="cpu", logger=False, callbacks=[WiseFT()])
    with pytest.raises(RuntimeError, match=r"after trainer\.fit"):
        trainer.callbacks[0].evaluate(trainer, CLIPFineTune(model_seed=0))
    cb = WiseFT()
    cb.start = {}
    with pytest.raises(RuntimeError, match="has none"):
        cb.evaluate(trainer, CLIPFineTune(model_seed=0))


@pytest.mark.slow
def test_vlmrobust_fit_evaluates_wise_ft_after_fit(tmp_path) -> None:
    from vlmrobust.train.cli import VlmrobustCLI

    db = tmp_path / "results.db"
    VlmrobustCLI(args=[
        "fit", "--config", str(CONFIG), "--trainer.logger", "false", "--trainer.max_steps", "2",
        "--trainer.val_check_interval", "2", "--trainer.default_root_dir", str(tmp_path),
        "--data.init_args.train_size", "16", "--data.init_args.eval_size", "8",
        "--data.init_args.batch_size", "8", "--data.init_args.shifts", "[sketch]",
        "--trainer.callbacks.init_args.results_db", str(db), "--trainer.callbacks.init_args.run_name", "cli",
        "--trainer.callbacks+=vlmrobust.train.wiseft.WiseFT", "--trainer.callbacks.init_args.alphas", "[0.5]",
    ])  # fmt: skip
    names = set(ResultsStore(db).runs()["name"])
    assert {"cli", "cli-wiseft0.5"} <= names


def test_sharded_strategies_are_refused_before_training() -> None:
    from types import SimpleNamespace

    from vlmrobust.train.strategies import FSDP2Strategy

    trainer = SimpleNamespace(strategy=FSDP2Strategy(mixed_precision="fp32"))
    with pytest.raises(NotImplementedError, match="train under DDP"):
        WiseFT().setup(trainer, CLIPFineTune(model_seed=0), "fit")
