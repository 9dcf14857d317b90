"""ImageNet sets through CLIPFineTune + RobustnessCallback store what their protocol produced.

Two regressions: MCQ-mode sets were stored as 1000-way zero-shot ``zeroshot/top1`` (predictions outside the
question's options), and clean-label multi-label sets were scored against the single first label.
"""

import lightning.pytorch as pl

from vlmrobust.core.store import ResultsStore
from vlmrobust.data.datamodules import ImageNetDataModule
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet import metadata
from vlmrobust.eval.robustness_callback import RobustnessCallback
from vlmrobust.train.clip_finetune import CLIPFineTune

R_IDX = metadata.imagenet_r_indices()
LABELS = {n: (7 * n) % 1000 for n in range(1, 13)} | {13: R_IDX[3], 14: R_IDX[8]}
TEMPLATES = ["a photo of a {}."]


def _validate(tmp_path, data, name="r") -> ResultsStore:
    db = tmp_path / f"{name}.db"
    trainer = pl.Trainer(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=str(tmp_path),
                         callbacks=[RobustnessCallback(results_db=str(db), run_name=name)])  # fmt: skip
    trainer.validate(CLIPFineTune(model_seed=0), datamodule=data, verbose=False)
    return ResultsStore(db)


def _clean_rows(proposed: dict[int, list[int]]):
    return [(n, LABELS[n], proposed.get(n, [LABELS[n]]), "+") for n in sorted(LABELS)]


def test_mcq_mode_stores_option_answers_under_the_mcq_protocol(tmp_path):
    val = fx.write_val_folders(tmp_path / "val", LABELS)
    clean = fx.write_clean_labels(tmp_path / "clean.csv", _clean_rows({}))
    r = fx.write_imagenet_r(tmp_path / "r", {R_IDX[3]: 2, R_IDX[8]: 2})
    data = ImageNetDataModule(str(val), {"imagenet-r": str(r)}, val_label_file=str(clean), mode="mcq",
                              mcq_num_options=5, mcq_num_questions=None, templates=TEMPLATES, image_size=32,
                              eval_batch_size=4)  # fmt: skip
    store = _validate(tmp_path, data)
    cells = store.cells(metric="top1")
    assert set(cells["protocol"]) == {"mcq/prompt-dataset"} and "zeroshot" not in " ".join(cells["protocol"])
    preds = store.predictions()
    assert preds["pred"].between(0, 4).all() and preds["label"].between(0, 4).all()
    for eval_set, group in preds.groupby("eval_set"):
        assert cells.set_index("eval_set").loc[eval_set, "value"] == group["correct"].sum() / len(group)


def test_clean_multi_label_sets_count_predictions_in_the_label_set(tmp_path):
    val = fx.write_val_folders(tmp_path / "val", LABELS)
    first = fx.write_clean_labels(tmp_path / "first.csv", _clean_rows({}))
    kw = {"val_labels": "clean", "templates": TEMPLATES, "image_size": 32, "eval_batch_size": 4}
    probe = _validate(tmp_path, ImageNetDataModule(str(val), val_label_file=str(first), **kw), "probe")
    pred = {
        int(s.split("_")[-1].split(".")[0]): p for s, p in probe.predictions()[["sample_id", "pred"]].values
    }
    # every image's clean set: its official label (kept first, and wrong) plus what the model predicts
    wrong_first = {n: [LABELS[n], pred[n]] for n in pred if pred[n] != LABELS[n]}
    assert len(wrong_first) >= len(LABELS) - 2
    clean = fx.write_clean_labels(tmp_path / "clean.csv", _clean_rows(wrong_first))
    store = _validate(tmp_path, ImageNetDataModule(str(val), val_label_file=str(clean), **kw), "clean")
    preds = store.predictions()
    assert preds["correct"].all()
    assert (preds["label"] != preds["pred"]).sum() == len(wrong_first)  # right although not the first label
    assert store.cells(metric="top1")["value"].tolist() == [1.0]
