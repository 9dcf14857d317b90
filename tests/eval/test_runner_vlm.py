"""VLMs and embedders through the runner on the world's MCQ questions (tiny random-init LLaVA)."""

import pytest

from vlmrobust.core.store import ResultsStore
from vlmrobust.data.datamodules import WorldDataModule
from vlmrobust.eval.models import ModelEntry
from vlmrobust.eval.protocols import EmbedderClassification, EmbedderMCQ, MCQGeneration, MCQLikelihood
from vlmrobust.eval.runner import EvalData, EvalRunner


@pytest.fixture(scope="module")
def llava_dir(tmp_path_factory):
    from vlmrobust.models.tiny_hf import write_tiny_llava

    return write_tiny_llava(tmp_path_factory.mktemp("llava"), seed=0)


def _runner(db):
    return EvalRunner(str(db), run="r", batch_size=3, chunk_size=4, progress=False)


def test_vlm_answers_world_questions_by_likelihood_and_generation(tmp_path, llava_dir):
    data = EvalData(WorldDataModule(seed=0, eval_size=5, shifts=("sketch",), mode="mcq", mcq_num_options=4))
    vlm = ModelEntry(f"hf:{llava_dir}", role="vlm", family="vlm")
    protocols = [MCQLikelihood(reduction="mean"), MCQGeneration(max_new_tokens=3)]
    _runner(tmp_path / "r.db").evaluate([vlm], data, protocols)
    store = ResultsStore(tmp_path / "r.db")
    cells = store.cells()
    keys = {"mcq/likelihood-mean-a4-3", "mcq/generate-a4-3"}
    assert set(cells["protocol"]) == keys and set(cells.loc[cells.metric == "top1", "n"]) == {5}
    gen = store.predictions(protocol="mcq/generate-a4-3")
    assert all(isinstance(e["output"], str) and e["status"] for e in gen["extra"])
    unparsed = gen["pred"] == -1
    assert not gen.loc[unparsed, "correct"].any()  # never guessed
    counts = cells[(cells.protocol == "mcq/generate-a4-3") & (cells.eval_set == "world/id")].set_index(
        "metric"
    )
    statuses = [e["status"] for e in gen[gen.eval_set == "world/id"]["extra"]]
    assert counts.loc["unparsed", "extra"]["count"] == statuses.count("unparsed")
    lik = store.predictions(protocol="mcq/likelihood-mean-a4-3")
    for row in lik.itertuples():
        assert row.pred == max(range(4), key=row.extra["scores"].__getitem__)


def test_embedder_answers_classification_and_mcq(tmp_path, llava_dir):
    emb = ModelEntry(f"hf:{llava_dir}", role="embedder", family="embedder")
    for mode, proto in (
        ("classification", EmbedderClassification(templates="single")),
        ("mcq", EmbedderMCQ()),
    ):
        data = EvalData(WorldDataModule(seed=0, eval_size=4, shifts=("pose",), mode=mode))
        _runner(tmp_path / "r.db").evaluate([emb], data, [proto])
    cells = ResultsStore(tmp_path / "r.db").cells(metric="top1")
    assert set(cells["protocol"]) == {"embed/zeroshot-single", "mcq/embed-dataset"}
    assert len(cells) == 4
