"""Model-confusion distractors: a selection model's top wrong classes per image, read from the results store."""

from __future__ import annotations

import pytest

from vlmrobust.core.store import ResultsStore
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet import read_imagenet_r
from vlmrobust.data.mcq import ConfusionSource, build_mcq, build_options, read_benchmark, read_rankings
from vlmrobust.data.mcq.cli import main as build_mcq_main


def _store(path, rows, *, run="r1", model="sel", eval_set="toy", protocol="zeroshot/single"):
    key = {"run": run, "model": model, "eval_set": eval_set, "protocol": protocol, "step": -1}
    preds = [{**key, "sample_id": sid, "label": 0, "pred": extra.get("top5", [0])[0], "correct": False,
              "extra": extra} for sid, extra in rows.items()]  # fmt: skip
    ResultsStore(path).put(predictions=preds)


def test_distractors_are_exactly_the_selection_models_top_wrong_classes(tmp_path):
    db = tmp_path / "r.db"
    # hand-built score table: sample -> classes by the selection model's confidence, best first
    _store(db, {"a": {"top5": [3, 0, 5, 1, 2]}, "b": {"top5": [1, 2, 3, 4, 5], "ranking": [1, 2, 3, 4, 5, 6, 0]},
                "c": {"top5": [4, 3, 2, 1, 0]}})  # fmt: skip
    rankings = read_rankings(ConfusionSource(str(db), "sel"), "toy")
    assert rankings == {"a": [3, 0, 5, 1, 2], "b": [1, 2, 3, 4, 5, 6, 0], "c": [4, 3, 2, 1, 0]}
    labels = [(0,), (2, 1, 3), (4,)]  # b is multi-label: every correct label is excluded
    ranked = [rankings[s] for s in ("a", "b", "c")]
    index, options, answer = build_options(labels, 8, "confusion", num_options=4, num_questions=None, seed=0,
                                           rankings=ranked)  # fmt: skip
    assert index.tolist() == [0, 1, 2]
    got = [sorted(set(opts) - {opts[a]}) for opts, a in zip(options.tolist(), answer.tolist(), strict=True)]
    assert got == [[1, 3, 5], [4, 5, 6], [1, 2, 3]]
    assert [opts[a] for opts, a in zip(options.tolist(), answer.tolist(), strict=True)] == [0, 2, 4]
    for opts, ls in zip(options.tolist(), labels, strict=True):  # never a correct label among the distractors
        assert len(set(opts) & set(ls)) == 1


def test_a_too_short_ranking_and_missing_or_ambiguous_sources_are_clear_errors(tmp_path):
    with pytest.raises(
        ValueError, match=r"sample 0: the selection model's stored ranking \[0, 1\] has 1 wrong"
    ):
        build_options([(0,)], 5, "confusion", num_options=3, num_questions=None, rankings=[[0, 1]])
    with pytest.raises(ValueError, match="go with strategy 'confusion' only"):
        build_options([(0,)], 5, "confusion", num_options=3, num_questions=None)
    db = tmp_path / "r.db"
    with pytest.raises(FileNotFoundError, match="no results store"):
        read_rankings(ConfusionSource(str(db), "sel"), "toy")
    _store(db, {"a": {"top5": [1, 2, 3, 4, 0]}})
    with pytest.raises(ValueError, match="no stored predictions of model 'other'"):
        read_rankings(ConfusionSource(str(db), "other"), "toy")
    _store(db, {"a": {"top5": [1, 2, 3, 4, 0]}}, run="r2")
    with pytest.raises(ValueError, match=r"several runs \['r1', 'r2'\]; choose one with run="):
        read_rankings(ConfusionSource(str(db), "sel"), "toy")
    assert read_rankings(ConfusionSource(str(db), "sel", run="r2"), "toy") == {"a": [1, 2, 3, 4, 0]}
    _store(db, {"z": {"scores": [0.1]}}, eval_set="bad")
    with pytest.raises(ValueError, match=r"the record of 'z'.*stores no class ranking"):
        read_rankings(ConfusionSource(str(db), "sel"), "bad")


def test_unscored_images_are_not_asked_and_build_mcq_cli_reads_the_store(tmp_path, capsys):
    from vlmrobust.data.imagenet import metadata

    r_idx = metadata.imagenet_r_indices()
    root = fx.write_imagenet_r(tmp_path / "r", {r_idx[0]: 2, r_idx[1]: 1})
    image_set = read_imagenet_r(root)
    ids = [s.sample_id for s in image_set]
    db = tmp_path / "r.db"
    _store(db, {ids[0]: {"top5": [7, 0, 9, 1, 2]}, ids[1]: {"top5": [0, 1, 2, 3, 4]}}, eval_set="imagenet-r")
    bench = build_mcq(image_set, "confusion", num_options=4, num_questions=None,
                      rankings=read_rankings(ConfusionSource(str(db), "sel"), "imagenet-r"))  # fmt: skip
    assert [q.sample_id for q in bench.questions] == ids[:2]  # the third image was never scored
    assert sorted(set(bench.questions[0].options) - {0}) == [1, 7, 9]
    assert sorted(set(bench.questions[1].options) - {0}) == [
        1,
        2,
        3,
    ]  # its own label 0 is skipped in the ranking
    argv = ["--set", f"imagenet-r={root}", "--strategy", "confusion", "--num-options", "4", "--num-questions", "0",
            "--confusion-db", str(db), "--confusion-model", "sel", "--out", str(tmp_path / "out")]  # fmt: skip
    assert build_mcq_main(argv) == 0
    (path,) = (tmp_path / "out").glob("imagenet-r.confusion.k4.seed0.jsonl")
    assert [q.options for q in read_benchmark(path)] == [q.options for q in bench.questions]
    assert (
        build_mcq_main(["--set", f"imagenet-r={root}", "--strategy", "confusion", "--out", str(tmp_path)])
        == 2
    )
    assert "--strategy confusion needs --confusion-db" in capsys.readouterr().err


def test_imagenet_datamodule_builds_confusion_questions_from_the_store(tmp_path):
    from vlmrobust.data.datamodules import ImageNetDataModule
    from vlmrobust.data.imagenet import read_imagenet_val

    root = fx.write_val_folders(tmp_path / "val", {1: 10, 2: 20, 3: 30})
    ids = [s.sample_id for s in read_imagenet_val(root, labels="original")]
    db = tmp_path / "r.db"
    _store(db, {ids[0]: {"top5": [10, 11, 12, 13, 14]}, ids[1]: {"top5": [5, 20, 6, 7, 8]},
                ids[2]: {"top5": [1, 2, 3, 4, 30]}}, eval_set="imagenet-val")  # fmt: skip
    dm = ImageNetDataModule(val_root=str(root), val_labels="original", mode="mcq", mcq_strategy="confusion",
                            mcq_num_options=3, mcq_num_questions=None,
                            mcq_confusion=ConfusionSource(str(db), "sel"))  # fmt: skip
    dm.setup()
    (questions,) = [ds.questions for ds in dm.eval_datasets]
    got = {q.sample_id: sorted(set(q.options) - {q.answer_class}) for q in questions}
    assert got == {ids[0]: [11, 12], ids[1]: [5, 6], ids[2]: [1, 2]}
    with pytest.raises(ValueError, match="mcq_strategy 'confusion' needs mcq_confusion="):
        ImageNetDataModule(val_root=str(root), val_labels="original", mode="mcq", mcq_strategy="confusion")
