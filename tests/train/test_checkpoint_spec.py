"""A `vlmrobust fit` checkpoint is a model spec: evaluating it gives the numbers the fit stored."""

from pathlib import Path

import pytest
import torch

from vlmrobust.core.store import ResultsStore
from vlmrobust.data.datamodules import WorldDataModule
from vlmrobust.eval.models import ModelEntry
from vlmrobust.eval.protocols import ZeroShotClassification
from vlmrobust.eval.runner import EvalData, EvalRunner
from vlmrobust.train.cli import VlmrobustCLI

CONFIG = Path(__file__).parents[2] / "configs" / "fit" / "quickstart.yaml"
DATA = {"seed": 0, "train_size": 32, "eval_size": 16, "batch_size": 8, "shifts": ["sketch"]}


def _cli(subcommand: str, root: Path, *extra: str) -> VlmrobustCLI:
    return VlmrobustCLI(
        args=[subcommand, "--config", str(CONFIG), "--trainer.logger", "false", "--trainer.max_steps", "4",
              "--trainer.val_check_interval", "4", "--trainer.default_root_dir", str(root),
              "--data.init_args.train_size", "32", "--data.init_args.eval_size", "16",
              "--data.init_args.batch_size", "8", "--data.init_args.shifts", "[sketch]",
              "--trainer.callbacks.init_args.results_db", str(root / "results.db"), *extra],
    )  # fmt: skip


@pytest.mark.slow
def test_a_fit_checkpoint_evaluates_to_the_stored_numbers_and_validate_stores_its_step(tmp_path):
    _cli("fit", tmp_path)
    [ckpt] = sorted(tmp_path.rglob("*.ckpt"))
    [exported] = sorted(tmp_path.rglob("model.safetensors"))  # ExportModel of the config
    assert exported.parent == ckpt.parent
    store = ResultsStore(tmp_path / "results.db")
    fitted = store.cells(metric="top1", step=4).set_index("eval_set")["value"].to_dict()
    assert set(fitted) == {"world/id", "world/sketch"}

    spec = f"open_clip:vlmrobust-tiny-clip@{ckpt}"
    runner = EvalRunner(str(tmp_path / "eval.db"), run="from-ckpt", batch_size=8, progress=False)
    report = runner.evaluate(
        [ModelEntry(spec)], EvalData(WorldDataModule(**DATA)), [ZeroShotClassification()]
    )
    evaluated = {c.eval_set: c.value for c in report.cells if c.metric == "top1"}
    assert evaluated == pytest.approx(fitted, abs=0)  # the same predictions: exactly the same accuracies

    _cli("validate", tmp_path, "--ckpt_path", str(ckpt))
    validated = store.cells(metric="top1")
    validated = validated[validated["run"] != store.cells(step=4, metric="top1")["run"].iloc[0]]
    assert set(validated["step"]) == {4}  # the checkpoint's step, not the validate loop's 0
    assert validated.set_index("eval_set")["value"].to_dict() == pytest.approx(fitted, abs=0)


def test_a_checkpoint_of_another_architecture_names_the_tensor(tmp_path):
    from vlmrobust.models.registry import load_scorer

    wide = load_scorer("open_clip:vlmrobust-tiny-clip", seed=0)
    state = {f"scorer.model.{k}": v for k, v in wide.model.state_dict().items()}
    state["scorer.model.text_projection"] = torch.zeros(64, 32)  # another embedding width
    path = tmp_path / "bad.ckpt"
    torch.save({"state_dict": state, "pytorch-lightning_version": "2.5", "global_step": 3}, path)
    with pytest.raises(
        ValueError, match=r"tensor text_projection has shape \(64, 32\) in the checkpoint, \(64, 64\)"
    ):
        load_scorer(f"open_clip:vlmrobust-tiny-clip@{path}")
    state["scorer.model.text_projection"] = wide.model.text_projection.detach().clone()
    state["scorer.model.positional_embedding"] = torch.zeros(32, 48)  # text width 48, not 64
    torch.save({"state_dict": state, "pytorch-lightning_version": "2.5", "global_step": 3}, path)
    with pytest.raises(ValueError, match=r"tensor positional_embedding has shape \(32, 48\)"):
        load_scorer(f"open_clip:vlmrobust-tiny-clip@{path}")


def test_interpolate_weights_by_hand():
    from vlmrobust.train.export import interpolate_weights

    start = {"w": torch.tensor([0.0, 2.0]), "n": torch.tensor(3)}
    end = {"w": torch.tensor([4.0, -2.0]), "n": torch.tensor(7)}
    assert interpolate_weights(start, end, 0.25)["w"].tolist() == [1.0, 1.0]  # 0.75·start + 0.25·end
    assert interpolate_weights(start, end, 0.25)["n"].item() == 7  # integer buffers: the fine-tuned one
    assert torch.equal(interpolate_weights(start, end, 0)["w"], start["w"])
    assert torch.equal(interpolate_weights(start, end, 1)["w"], end["w"])
    with pytest.raises(ValueError, match=r"tensor w has shape \(2,\) and \(3,\)"):
        interpolate_weights(start, {**end, "w": torch.zeros(3)}, 0.5)
    with pytest.raises(ValueError, match=r"only in one: \['n'\]"):
        interpolate_weights(start, {"w": end["w"]}, 0.5)
