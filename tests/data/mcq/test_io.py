"""Benchmark files: JSONL and Parquet round trips, version and field checks, atomic stats."""

from __future__ import annotations

import json
import sys

import pytest

from vlmrobust.core.optional import MissingDependencyError
from vlmrobust.data.imagenet import ImageSet, Sample, imagenet_1k_classes
from vlmrobust.data.mcq import (
    BenchmarkFormatError,
    build_mcq,
    read_benchmark,
    save_benchmark,
    write_benchmark,
)


@pytest.fixture(scope="module")
def bench():
    samples = tuple(Sample(f"s{i}", f"/img/{i}.jpg", (i, (i + 1) % 1000), (i,)) for i in range(40))
    return build_mcq(ImageSet("imagenet-val-clean", "/img", samples, imagenet_1k_classes(), multi_label=True),
                     "hierarchy", num_questions=30, seed=2)  # fmt: skip


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_round_trip(bench, tmp_path, fmt):
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    path, stats_path = save_benchmark(list(bench.questions), bench.stats, tmp_path, fmt)
    assert path.name == f"imagenet-val-clean.hierarchy.k5.seed2.{fmt}"
    assert read_benchmark(path) == list(bench.questions)
    stats = json.loads(stats_path.read_text())
    assert stats["format_version"] == "vlmrobust-mcq/2" and stats["num_questions"] == 30
    assert stats["mean_tree_distance"] < stats["random_tree_distance"]
    assert not list(tmp_path.glob(".*.tmp"))  # temporary files renamed away


def test_jsonl_rows_are_plain_json(bench, tmp_path):
    path = write_benchmark(bench.questions[:2], tmp_path / "b.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    q = bench.questions[0]
    assert rows[0]["options"] == list(q.options) and rows[0]["answer"] == q.answer
    assert rows[0]["image"] == q.image and rows[0]["sample_id"] == q.sample_id
    assert rows[0]["option_names"][q.answer] == imagenet_1k_classes().names[q.labels[0]]


def test_bad_files_name_file_and_row(bench, tmp_path):
    path = write_benchmark(bench.questions[:3], tmp_path / "b.jsonl")
    lines = path.read_text().splitlines()
    row = json.loads(lines[1])
    row["format_version"] = "vlmrobust-mcq/0"
    path.write_text("\n".join([lines[0], json.dumps(row), lines[2]]) + "\n")
    with pytest.raises(BenchmarkFormatError, match=r"b\.jsonl:2: format_version 'vlmrobust-mcq/0'"):
        read_benchmark(path)
    row = json.loads(lines[0])
    del row["answer"]
    path.write_text(json.dumps(row) + "\n{not json\n")
    with pytest.raises(BenchmarkFormatError, match=r"b\.jsonl:1: missing field\(s\) \['answer'\]"):
        read_benchmark(path)
    path.write_text(lines[0] + "\n{not json\n")
    with pytest.raises(BenchmarkFormatError, match=r"b\.jsonl:2: not JSON"):
        read_benchmark(path)
    with pytest.raises(ValueError, match=r"end in \.jsonl or \.parquet"):
        write_benchmark(bench.questions, tmp_path / "b.csv")


def test_parquet_without_pyarrow_names_the_parquet_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # any import of pyarrow now fails
    with pytest.raises(
        MissingDependencyError, match=r"pyarrow is needed .*pip install 'vlmrobust-data\[parquet\]'"
    ):
        read_benchmark(tmp_path / "q.parquet")


def test_answer_source_is_stored_and_version_1_refused(bench, tmp_path):
    path = write_benchmark(bench.questions[:2], tmp_path / "b.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["answer_source"] for r in rows] == ["official", "official"]
    assert [q.answer_source for q in read_benchmark(path)] == ["official", "official"]
    old = {k: v for k, v in rows[0].items() if k != "answer_source"} | {"format_version": "vlmrobust-mcq/1"}
    path.write_text(json.dumps(old) + "\n")
    with pytest.raises(BenchmarkFormatError, match=r"b\.jsonl:1: format_version 'vlmrobust-mcq/1'.*mcq/2"):
        read_benchmark(path)
