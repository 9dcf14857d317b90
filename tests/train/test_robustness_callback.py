"""RobustnessCallback inside a real Trainer: logged pairs, effective robustness against a baseline, store."""

import json

import lightning.pytorch as pl
import pytest
from scipy.stats import norm

from vlmrobust.core.store import ResultsStore
from vlmrobust.data.world.datamodule import WorldDataModule
from vlmrobust.eval.robustness_callback import RobustnessCallback
from vlmrobust.train.clip_finetune import CLIPFineTune


def _validate(tmp_path, callback: RobustnessCallback) -> pl.Trainer:
    data = WorldDataModule(seed=0, train_size=8, eval_size=24, shifts=("sketch", "pose"), eval_batch_size=10)
    module = CLIPFineTune(model_seed=0)
    trainer = pl.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        callbacks=[callback],
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path),
    )
    trainer.validate(module, datamodule=data, verbose=False)
    return trainer


def test_pairs_eff_robustness_and_store(tmp_path):
    lines = {"world/sketch": {"slope": 0.8, "intercept": -0.3, "r2": 0.99, "n": 5, "transform": "probit"}}
    (tmp_path / "lines.json").write_text(json.dumps(lines))
    db = tmp_path / "results.db"
    cb = RobustnessCallback(results_db=str(db), run_name="r", baseline_lines=str(tmp_path / "lines.json"))
    metrics = _validate(tmp_path, cb).callback_metrics

    stored = ResultsStore(db).cells().set_index("eval_set")
    assert set(stored.index) == {"world/id", "world/sketch", "world/pose"} and set(stored["n"]) == {24}
    id_acc, sketch_acc = stored.loc["world/id", "value"], stored.loc["world/sketch", "value"]
    assert float(metrics["robustness/world.sketch/id_acc"]) == pytest.approx(id_acc)
    assert float(metrics["robustness/world.sketch/ood_acc"]) == pytest.approx(sketch_acc)
    clip = lambda a: min(max(a, 1 / 48), 1 - 1 / 48)  # noqa: E731  clipping rule with n = 24
    assert float(metrics["robustness/world.sketch/ood_probit"]) == pytest.approx(
        norm.ppf(clip(sketch_acc)), abs=1e-5
    )
    expected_er = sketch_acc - norm.cdf(0.8 * norm.ppf(clip(id_acc)) - 0.3)
    assert float(metrics["robustness/world.sketch/eff_robustness"]) == pytest.approx(expected_er, abs=1e-6)
    assert "robustness/world.pose/eff_robustness" not in metrics  # no baseline line for pose
    preds = ResultsStore(db).predictions(eval_set="world/sketch")
    assert len(preds) == 24 and preds["correct"].mean() == pytest.approx(sketch_acc)
    assert preds["sample_id"].iloc[0].startswith("world/sketch/eval/")


def test_baseline_file_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.json"):
        RobustnessCallback(baseline_lines=str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"world/sketch": {"slope": 1.0}}))
    with pytest.raises(ValueError, match=r"bad.json: entry 'world/sketch' misses"):
        RobustnessCallback(baseline_lines=str(bad))


def test_step_output_contract_is_checked(tmp_path):
    class NoDict(CLIPFineTune):
        def validation_step(self, batch, batch_idx, dataloader_idx=0):
            return None

    data = WorldDataModule(seed=0, train_size=8, eval_size=4, shifts=("sketch",))
    trainer = pl.Trainer(
        accelerator="cpu", logger=False, callbacks=[RobustnessCallback()], enable_progress_bar=False
    )
    with pytest.raises(TypeError, match="'index', 'pred'"):
        trainer.validate(NoDict(model_seed=0), datamodule=data, verbose=False)
