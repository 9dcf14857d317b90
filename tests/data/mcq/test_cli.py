"""``vlmrobust build-mcq`` on fixture trees: every set, paired ID sets, strategies, visual features."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from vlmrobust.core import cli
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet import metadata, read_imagenet_val
from vlmrobust.data.mcq import read_benchmark
from vlmrobust.data.mcq.cli import main


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("trees")
    r_idx = metadata.imagenet_r_indices()
    # val: 12 images, 6 of them in ImageNet-R classes
    labels = {n + 1: (r_idx[n] if n < 6 else 500 + n) for n in range(12)}
    val = fx.write_val_folders(base / "val", labels)
    r = fx.write_imagenet_r(base / "r", {r_idx[0]: 3, r_idx[1]: 3, r_idx[2]: 2})
    return val, r


def test_builds_every_set(trees, tmp_path, capsys):
    val, r = trees
    argv = ["--set", f"imagenet-val={val}", "--set", f"imagenet-r={r}", "--out", str(tmp_path),
            "--strategy", "random", "--strategy", "hierarchy", "--num-questions", "0", "--seed", "4",
            "--val-labels", "original"]  # fmt: skip
    assert main(argv) == 0
    names = sorted(p.name for p in tmp_path.glob("*.jsonl"))
    assert names == sorted(
        f"{s}.{st}.k5.seed4.jsonl"
        for s in ("imagenet-val", "imagenet-val-on-imagenet-r-classes", "imagenet-r")
        for st in ("random", "hierarchy")
    )
    paired = read_benchmark(tmp_path / "imagenet-val-on-imagenet-r-classes.hierarchy.k5.seed4.jsonl")
    assert len(paired) == 6 and all(max(q.options) < 200 for q in paired)
    shift = read_benchmark(tmp_path / "imagenet-r.hierarchy.k5.seed4.jsonl")
    assert len(shift) == 8 and {q.answer_class for q in shift} == {0, 1, 2}
    stats = json.loads((tmp_path / "imagenet-r.hierarchy.k5.seed4.stats.json").read_text())
    assert stats["num_classes"] == 200 and stats["mean_tree_distance"] < stats["random_tree_distance"]
    assert "imagenet-r hierarchy: 8 questions" in capsys.readouterr().out


def test_visual_from_feature_files(trees, tmp_path):
    val, _ = trees
    image_set = read_imagenet_val(val)
    feats = np.array([[float(s.label), 0.0] for s in image_set])  # 1-D features: class index on an axis
    np.savez(tmp_path / "imagenet-val.npz", sample_ids=[s.sample_id for s in image_set], features=feats)
    argv = ["--set", f"imagenet-val={val}", "--out", str(tmp_path / "out"), "--strategy", "visual",
            "--features", str(tmp_path), "--metric", "euclidean", "--num-options", "3", "--num-questions", "0",
            "--val-labels", "original"]  # fmt: skip
    assert main(argv) == 0
    questions = read_benchmark(tmp_path / "out" / "imagenet-val.visual.k3.seed0.jsonl")
    labels = sorted(s.label for s in image_set)
    for q in questions:
        dists = sorted((abs(c - q.answer_class), c) for c in labels if c != q.answer_class)
        # the 2 classes with the nearest class index (no ties in these labels)
        assert {c for c in q.options if c != q.answer_class} == {c for _, c in dists[:2]}


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("vlmrobust build-mcq: error: ")
    return err


def test_bad_arguments(trees, tmp_path, capsys):
    val, _ = trees
    assert main(["--set", f"imagenet-rr={val}", "--out", str(tmp_path)]) == 2
    assert "unknown eval set 'imagenet-rr'. Did you mean 'imagenet-r'" in _one_error_line(capsys)
    argv = ["--set", f"imagenet-val={val}", "--out", str(tmp_path), "--strategy", "visual",
            "--val-labels", "original"]  # fmt: skip
    assert main(argv) == 2
    assert "--strategy visual needs --features" in _one_error_line(capsys)
    assert main(["--set", f"imagenet-val={val}", "--out", str(tmp_path)]) == 2
    assert re.search(r"default: clean, Kisel et al\..*--val-label-file", _one_error_line(capsys))


def test_missing_folder_is_one_line_naming_it(tmp_path, capsys):
    missing = tmp_path / "no-such-imagenet-r"
    assert cli.main(["build-mcq", "--set", f"imagenet-r={missing}", "--out", str(tmp_path / "out")]) == 2
    assert (
        _one_error_line(capsys)
        == f"vlmrobust build-mcq: error: {missing}: ImageNet-R folder does not exist\n"
    )


def test_malformed_label_file_is_one_line_naming_it(trees, tmp_path, capsys):
    val, _ = trees
    bad = tmp_path / "clean_validation.csv"
    bad.write_text("id,label\nILSVRC2012_val_00000001.JPEG,0\n", encoding="utf-8")
    argv = ["build-mcq", "--set", f"imagenet-val={val}", "--val-label-file", str(bad), "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    assert f"error: {bad}:1: header 'id,label', expected " in _one_error_line(capsys)


def test_errors_through_the_console_script_process(tmp_path):
    missing = tmp_path / "nowhere"
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from vlmrobust.core.cli import main; sys.exit(main(sys.argv[1:]))",
         "build-mcq", "--set", f"imagenet-sketch={missing}", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"vlmrobust build-mcq: error: {missing}") and "Traceback" not in proc.stderr


def test_clean_labels_by_default(tmp_path):
    # image 1: tench (0) with goldfish (1) also correct; 2: goldfish alone; 3: no valid label (not listed)
    val = fx.write_val_folders(tmp_path / "val", {1: 0, 2: 1, 3: 2})
    clean = fx.write_clean_labels(tmp_path / "clean_validation.csv", [(1, 0, [0, 1], "+"), (2, 1, [1], "+")])
    argv = ["--set", f"imagenet-val={val}", "--val-label-file", str(clean), "--out", str(tmp_path / "out"),
            "--num-questions", "0"]  # fmt: skip
    assert main(argv) == 0
    questions = read_benchmark(tmp_path / "out" / "imagenet-val-clean.hierarchy.k5.seed0.jsonl")
    assert [(q.sample_id[-1], q.labels) for q in questions] == [("1", (0, 1)), ("2", (1,))]
    assert 1 not in questions[0].options  # goldfish is correct for image 1: never a distractor
    assert 0 in questions[1].options  # tench is the nearest class to goldfish
