"""EvalRunner: cells equal a direct protocol loop; reruns skip finished cells; partial cells resume."""

import pytest
import torch

from vlmrobust.core.store import ResultsStore
from vlmrobust.data.datamodules import WorldDataModule
from vlmrobust.eval.models import ModelEntry
from vlmrobust.eval.protocols import MCQGeneration, ProtocolError, ZeroShotClassification
from vlmrobust.eval.runner import EvalData, EvalRunner
from vlmrobust.models.registry import load_scorer

MODEL = ModelEntry("open_clip:vlmrobust-tiny-clip", role="scorer", family="clip", seed=0)


def _data(**kw):
    return EvalData(WorldDataModule(seed=0, eval_size=30, shifts=("sketch",), **kw))


def _runner(db, **kw):
    return EvalRunner(str(db), run="r", batch_size=8, chunk_size=16, progress=False, **kw)


def test_cells_equal_a_direct_loop_over_the_protocol(tmp_path):
    report = _runner(tmp_path / "r.db").evaluate([MODEL], _data(), [ZeroShotClassification()])
    store = ResultsStore(tmp_path / "r.db")
    cells = store.cells(metric="top1").set_index("eval_set")
    assert set(cells.index) == {"world/id", "world/sketch"} and set(cells["protocol"]) == {"zeroshot/dataset"}
    assert cells.loc["world/id", "extra"]["family"] == "clip" and report.predicted == 60

    scorer = load_scorer(MODEL.spec, seed=0).eval()
    for info, ds in _data().pairs:
        ds.transform = scorer.preprocess
        proto = ZeroShotClassification()
        proto.prepare(scorer, info)
        batch = {"image": torch.stack([ds[i]["image"] for i in range(len(ds))]),
                 "label": torch.tensor([ds[i]["label"] for i in range(len(ds))]), "index": torch.arange(len(ds))}  # fmt: skip
        correct = proto.predict(scorer, info, batch).correct
        assert cells.loc[info.name, "value"] == int(correct.sum()) / len(ds)
        assert cells.loc[info.name, "n"] == len(ds)
    preds = store.predictions(eval_set="world/sketch")
    assert len(preds) == 30 and preds["sample_id"].is_unique


def test_rerun_skips_finished_cells_and_resumes_partial_ones(tmp_path):
    db = tmp_path / "r.db"
    _runner(db).evaluate([MODEL], _data(), [ZeroShotClassification()])
    store = ResultsStore(db)
    before = store.cells()
    again = _runner(db).evaluate([MODEL], _data(), [ZeroShotClassification()])
    assert again.predicted == 0 and len(again.skipped) == 2
    assert store.cells()["updated_at"].tolist() == before["updated_at"].tolist()

    # a killed run: the sketch cell not written, a third of its predictions not committed
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM cells WHERE eval_set='world/sketch'")
        conn.execute("DELETE FROM predictions WHERE eval_set='world/sketch' AND rowid % 3 = 0")
    resumed = _runner(db).evaluate([MODEL], _data(), [ZeroShotClassification()])
    assert 0 < resumed.predicted < 30 and len(resumed.skipped) == 1
    after = store.cells().drop(columns="updated_at")
    pd_before = before.drop(columns="updated_at")
    assert (
        after.sort_values(["eval_set", "metric"]).values.tolist()
        == pd_before.sort_values(["eval_set", "metric"]).values.tolist()
    )


def test_plan_refuses_protocols_that_fit_nothing(tmp_path):
    with pytest.raises(
        ProtocolError,
        match=r"model 'open_clip:vlmrobust-tiny-clip' is a scorer, but the protocols given drive vlm",
    ):
        _runner(tmp_path / "r.db").evaluate([MODEL], _data(), [MCQGeneration()])
    with pytest.raises(
        ProtocolError, match=r"protocol 'mcq/generate-a4-3' \(vlm models, mcq sets\) fits no model"
    ):
        _runner(tmp_path / "r.db").evaluate([MODEL], _data(), [ZeroShotClassification(), MCQGeneration()])
    assert not (tmp_path / "r.db").exists()


def test_models_already_in_memory_are_used_as_given(tmp_path):
    seed1 = ModelEntry("open_clip:vlmrobust-tiny-clip", role="scorer", seed=1)
    _runner(tmp_path / "a.db").evaluate([seed1], _data(), [ZeroShotClassification()])
    in_memory = load_scorer(MODEL.spec, seed=1).eval()  # what MODEL would be with seed 1
    _runner(tmp_path / "b.db").evaluate([MODEL], _data(), [ZeroShotClassification()], {MODEL.name: in_memory})
    _runner(tmp_path / "c.db").evaluate([MODEL], _data(), [ZeroShotClassification()])  # loaded from its spec
    a, b, c = (ResultsStore(tmp_path / f"{x}.db").predictions() for x in "abc")
    assert a["pred"].tolist() == b["pred"].tolist() != c["pred"].tolist()
