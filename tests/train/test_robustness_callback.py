"""RobustnessCallback inside a real Trainer: logged pairs, effective robustness against a baseline, store."""

import json

import lightning.pytorch as pl
import pytest
from scipy.stats import norm

from vlmrobust.core.store import ResultsStore
from vlmrobust.data.datamodules import WorldDataModule
from vlmrobust.data.evalsets import EvalSetInfo
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
    lines = {
        "world/sketch": {
            "slope": 0.8,
            "intercept": -0.3,
            "r2": 0.99,
            "n": 5,
            "transform": "probit",
            "id_set": "world/id",
            "ood_set": "world/sketch",
        }
    }
    (tmp_path / "lines.json").write_text(json.dumps(lines))
    db = tmp_path / "results.db"
    cb = RobustnessCallback(results_db=str(db), run_name="r", baseline_lines=str(tmp_path / "lines.json"))
    metrics = _validate(tmp_path, cb).callback_metrics

    stored = ResultsStore(db).cells(metric="top1").set_index("eval_set")
    assert set(stored.index) == {"world/id", "world/sketch", "world/pose"} and set(stored["n"]) == {24}
    assert set(stored["protocol"]) == {"zeroshot/dataset"}
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
    with pytest.raises(TypeError, match="BatchPredictions of the module's eval protocol"):
        trainer.validate(NoDict(model_seed=0), datamodule=data, verbose=False)


def _lines(tmp_path, id_set="world/id"):
    lines = {"world/sketch": {"slope": 0.8, "intercept": -0.3, "r2": 0.99, "n": 5, "transform": "probit",
                              "id_set": id_set, "ood_set": "world/sketch"}}  # fmt: skip
    (tmp_path / "lines.json").write_text(json.dumps(lines))
    return str(tmp_path / "lines.json")


def _pair(id_correct, id_n, ood_correct, ood_n):
    from vlmrobust.eval.metrics import Accuracy
    from vlmrobust.eval.protocols import MetricValue

    infos = [EvalSetInfo("world/id", ("a", "b"), ("{}",), None, id_n),
             EvalSetInfo("world/sketch", ("a", "b"), ("{}",), "world/id", ood_n)]  # fmt: skip
    results = {"world/id": {"top1": MetricValue.of(Accuracy(id_correct, id_n))},
               "world/sketch": {"top1": MetricValue.of(Accuracy(ood_correct, ood_n))}}  # fmt: skip
    return infos, results


def test_effective_robustness_clips_the_id_accuracy_by_its_sample_count(tmp_path):
    # ID 8/8 clipped to 1 - 1/16 (n = 8): ER = 0.7 - Phi(0.8 * Phi^-1(0.9375) - 0.3) = -0.1231
    infos, results = _pair(8, 8, 7, 10)
    metrics = RobustnessCallback(baseline_lines=_lines(tmp_path))._metrics(infos, results)
    assert metrics["robustness/world.sketch/eff_robustness"] == pytest.approx(
        0.7 - norm.cdf(0.8 * norm.ppf(1 - 1 / 16) - 0.3), abs=1e-12
    )
    assert metrics["robustness/world.sketch/eff_robustness"] == pytest.approx(-0.1231, abs=1e-4)


def test_a_baseline_line_of_another_id_set_is_refused(tmp_path):
    infos, results = _pair(8, 8, 7, 10)
    cb = RobustnessCallback(baseline_lines=_lines(tmp_path, id_set="imagenet-val"))
    with pytest.raises(
        ValueError, match=r"fitted with ID set 'imagenet-val', but this pair's ID set is 'world/id'"
    ):
        cb._metrics(infos, results)


def test_mcq_sets_are_stored_as_mcq_answers_not_zero_shot_classes(tmp_path):
    db = tmp_path / "results.db"
    data = WorldDataModule(seed=0, train_size=8, eval_size=24, shifts=("sketch",), eval_batch_size=10, mode="mcq",
                           mcq_num_options=5)  # fmt: skip
    module = CLIPFineTune(model_seed=0)
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         callbacks=[RobustnessCallback(results_db=str(db), run_name="r")],
                         enable_model_summary=False, default_root_dir=str(tmp_path))  # fmt: skip
    trainer.validate(module, datamodule=data, verbose=False)
    store = ResultsStore(db)
    assert set(store.cells()["protocol"]) == {"mcq/prompt-dataset"}
    preds = store.predictions()
    assert len(preds) == 48 and preds["pred"].between(0, 4).all()  # option positions, never class indices
    options = {data.eval_datasets[0].sample_id(i): data.eval_datasets[0][i] for i in range(24)}
    id_preds = preds[preds["eval_set"] == "world/id"]
    for row in id_preds.itertuples():
        assert row.label == options[row.sample_id]["answer"]
        assert len(row.extra["scores"]) == 5 and row.pred == max(
            range(5), key=row.extra["scores"].__getitem__
        )
    top1 = store.cells(metric="top1", eval_set="world/id")["value"].item()
    assert top1 == id_preds["correct"].sum() / 24
