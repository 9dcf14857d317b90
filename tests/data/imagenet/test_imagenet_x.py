"""ImageNet-X factor annotations as per-factor subsets of val."""

from __future__ import annotations

import json

import pytest

from vlmrobust.data.imagenet import DatasetFormatError, imagenet_x_subsets, read_imagenet_val, read_imagenet_x
from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet.imagenet_x import FACTORS


@pytest.fixture(scope="module")
def val(tmp_path_factory):  # read-only, shared by the module's tests
    return read_imagenet_val(fx.write_val_folders(tmp_path_factory.mktemp("val"), {1: 65, 2: 970, 3: 230}))


def write(tmp_path, rows):
    return fx.write_imagenet_x(tmp_path / "imagenet_x_val_multi_factor.jsonl", rows)


def test_factor_subsets(tmp_path, val):
    path = write(tmp_path, [(2, 970, {"pose", "background"}), (1, 65, {"pose"}), (3, 230, {"color"}),
                            (4, 809, {"pose"})])  # fmt: skip
    first = json.loads(path.read_text().splitlines()[0])
    assert list(first)[:3] == ["file_name", "class", "multiple_objects"] and len(first) == 2 + 16 + 2
    assert first["file_name"] == "ILSVRC2012_val_00000002.JPEG" and first["pose"] == 1 and first["color"] == 0
    ann = read_imagenet_x(path)
    subsets = imagenet_x_subsets(val, ann)
    assert list(subsets) == list(FACTORS) and len(FACTORS) == 16
    ids = {f: [s.sample_id[-1] for s in subsets[f]] for f in ("pose", "background", "color", "texture")}
    assert ids == {"pose": ["1", "2"], "background": ["2"], "color": ["3"], "texture": []}
    pose = subsets["pose"]
    assert (
        pose.name == "imagenet-x/pose"
        and pose.id_set == "imagenet-val"
        and [s.label for s in pose] == [65, 970]
    )


def test_prototypes_are_dropped(tmp_path, val):
    path = write(tmp_path, [(1, 65, {"pose"}), (2, 970, {"pose"})])
    protos = fx.write_prototypes(tmp_path / "prototypical_paths.csv", [2])
    ann = read_imagenet_x(path, prototypes=protos)
    assert [s.sample_id[-1] for s in imagenet_x_subsets(val, ann, ("pose",))["pose"]] == ["1"]


def test_class_disagreement_is_an_error(tmp_path, val):
    ann = read_imagenet_x(write(tmp_path, [(1, 64, {"pose"})]))
    with pytest.raises(DatasetFormatError, match="ILSVRC2012_val_00000001 is annotated class 64"):
        imagenet_x_subsets(val, ann)


def test_malformed_lines(tmp_path, val):
    path = write(tmp_path, [(1, 65, {"pose"})])
    with open(path, "a") as f:
        f.write("{not json\n")
        f.write(json.dumps({"file_name": "ILSVRC2012_val_00000002.JPEG", "class": 970, "pose": 2}) + "\n")
    with pytest.raises(DatasetFormatError, match=r"multi_factor.jsonl:2: not a JSON object"):
        read_imagenet_x(path)
    ann = read_imagenet_x(path, on_error="skip")
    assert len(ann.skipped) == 2 and "not 0/1" in ann.skipped[1].reason
    assert ann.factors["pose"] == frozenset({"ILSVRC2012_val_00000001"})
    with pytest.raises(ValueError, match="Did you mean 'pose'"):
        imagenet_x_subsets(val, ann, ("poses",))
