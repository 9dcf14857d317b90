"""ChunkWriter: chunks committed in order on a background thread; write errors reach the submitter."""

import pytest

from vlmrobust.core.store import ResultsStore, StoreError
from vlmrobust.eval.writer import ChunkWriter


def _chunk(ids, pred=1):
    return [{"run": "r", "model": "m", "eval_set": "s", "protocol": "p", "step": -1, "sample_id": i,
             "label": 1, "pred": pred, "extra": {"k": i}} for i in ids]  # fmt: skip


def test_every_chunk_is_committed_in_order_before_close_returns(tmp_path):
    store = ResultsStore(tmp_path / "r.db")
    with ChunkWriter(store) as writer:
        for c in range(5):
            writer.submit(_chunk([f"{c}-{j}" for j in range(50)]))
        writer.submit(_chunk(["0-0"], pred=7))  # a later chunk replaces an earlier row: order is kept
    preds = store.predictions().set_index("sample_id")
    assert len(preds) == 250 and preds.loc["0-0", "pred"] == 7 and preds.loc["4-49", "extra"] == {"k": "4-49"}


def test_a_write_error_is_raised_in_the_submitting_thread(tmp_path):
    store = ResultsStore(tmp_path / "r.db")
    writer = ChunkWriter(store)
    writer.submit([{"run": "r"}])  # lacks the key columns: the store refuses the chunk
    with pytest.raises(StoreError, match=r"predictions\[0\] lacks"):
        writer.close()
    assert not store.exists or store.predictions().empty


def test_chunks_already_predicted_are_committed_when_the_caller_fails(tmp_path):
    store = ResultsStore(tmp_path / "r.db")
    with pytest.raises(RuntimeError, match="model crashed"), ChunkWriter(store) as writer:
        writer.submit(_chunk(["a", "b"]))
        raise RuntimeError("model crashed")
    assert sorted(store.predictions()["sample_id"]) == ["a", "b"]
