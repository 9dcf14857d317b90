"""ID on a shift's classes: val restricted to a shift's classes, and logits collapsed onto them."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vlmrobust.data.imagenet import (
    collapse_logits,
    id_counterpart,
    imagenet_r_classes,
    objectnet_classes,
    pair_with_val,
    read_imagenet_r,
    read_imagenet_v2,
    read_imagenet_val,
    read_objectnet,
    restrict_to_classes,
)
from vlmrobust.data.imagenet import fixtures as fx


@pytest.fixture(scope="module")
def val(tmp_path_factory):  # read-only, shared by the module's tests
    # 423/559/765 are all ObjectNet "chair" (17), 601 is "skirt" (77), 409 "alarm_clock" (0);
    # 1 (goldfish) is ImageNet-R class 0, 988 (acorn) R class 199; 0 (tench) is in neither
    labels = {1: 423, 2: 559, 3: 765, 4: 601, 5: 0, 6: 409, 7: 1, 8: 988}
    return read_imagenet_val(fx.write_val_folders(tmp_path_factory.mktemp("val"), labels))


def test_restrict_to_imagenet_r(val):
    got = restrict_to_classes(val, imagenet_r_classes())
    assert got.name == "imagenet-val-on-imagenet-r-classes" and got.id_set is None
    assert [(s.sample_id[-1], s.labels, s.in1k_labels) for s in got] == [
        ("7", (0,), (1,)),
        ("8", (199,), (988,)),
    ]
    assert got.classes.name == "imagenet-r"


def test_restrict_to_objectnet_is_many_to_one(val):
    got = restrict_to_classes(val, objectnet_classes())
    chair = (423, 559, 765)
    assert [(s.sample_id[-1], s.labels, s.in1k_labels) for s in got] == [
        ("1", (17,), chair), ("2", (17,), chair), ("3", (17,), chair), ("4", (77,), (601, 655, 689)),
        ("6", (0,), (409, 530)),
    ]  # fmt: skip
    assert got.name == "imagenet-val-on-objectnet-classes"


def test_restrict_multi_label_keeps_subset_labels(tmp_path):
    root = fx.write_val_folders(tmp_path / "val", {1: 0, 2: 423, 3: 0, 4: 1})
    real = fx.write_real_labels(tmp_path / "real.json", {1: [0, 1], 2: [423, 559, 601], 3: [0], 4: [1, 988]})
    val = read_imagenet_val(root, labels="real", label_file=real)
    r = restrict_to_classes(val, imagenet_r_classes())
    # image 1 (official tench, not an R class) is not a member although its ReaL set holds goldfish (R 0)
    assert [(s.sample_id[-1], s.labels, s.in1k_labels, s.official) for s in r] == [
        ("4", (0, 199), (1, 988), 0)
    ]
    on = restrict_to_classes(val, objectnet_classes())
    assert [(s.sample_id[-1], s.labels, s.in1k_labels, s.official) for s in on] == [
        ("2", (17, 77), (423, 559, 765, 601, 655, 689), 17)
    ]
    assert on.name == "imagenet-val-real-on-objectnet-classes" and on.multi_label and on.excluded == 0


def test_restrict_follows_the_official_label_and_counts_exclusions(tmp_path):
    # DESIGN: membership of "val on X's classes" follows the official label; with clean labels a member needs
    # a valid clean set and is scored on that set restricted to X; a clean set with no class of X is
    # excluded and counted.
    goldfish, great_white, tench, acorn = 1, 2, 0, 988  # 1, 2, 988 are ImageNet-R classes 0, 1, 199; 0 is not
    root = fx.write_val_folders(
        tmp_path / "val", {1: tench, 2: goldfish, 3: goldfish, 4: great_white, 5: acorn}
    )
    clean = fx.write_clean_labels(tmp_path / "clean.csv", [
        (1, tench, [goldfish], "+"),  # official outside R, clean inside: not a member
        (2, goldfish, [goldfish, tench], "+"),  # member, scored on {goldfish}
        (3, goldfish, [tench], "+"),  # member by its official label, but no clean class in R: excluded
        (4, great_white, [acorn, great_white], "+"),  # member, two correct R classes
        (5, acorn, [], "*"),  # no valid clean label: not in val at all (val.excluded)
    ])  # fmt: skip
    val = read_imagenet_val(root, labels="clean", label_file=clean)
    assert val.excluded == 1
    got = restrict_to_classes(val, imagenet_r_classes())
    assert [(s.sample_id[-1], s.labels, s.official) for s in got] == [("2", (0,), 0), ("4", (199, 1), 1)]
    assert got.excluded == 1  # image 3
    original = restrict_to_classes(read_imagenet_val(root), imagenet_r_classes())
    assert [(s.sample_id[-1], s.labels) for s in original] == [
        ("2", (0,)),
        ("3", (0,)),
        ("4", (1,)),
        ("5", (199,)),
    ]
    assert original.excluded == 0 and {s.official for s in original} == {None}
    unofficial = dataclasses.replace(val, samples=tuple(dataclasses.replace(s, official=None) for s in val))
    with pytest.raises(ValueError, match="has no official label"):
        restrict_to_classes(unofficial, imagenet_r_classes())


def test_pairing_names_and_full_class_shifts(tmp_path, val):
    v2 = read_imagenet_v2(fx.write_imagenet_v2(tmp_path / "v2", {2: 1}))
    assert id_counterpart(val, v2) is val
    r = read_imagenet_r(fx.write_imagenet_r(tmp_path / "r", {1: 1}))
    id_set, shift = pair_with_val(val, r)
    assert shift.id_set == id_set.name == "imagenet-val-on-imagenet-r-classes" and len(id_set) == 2
    on = read_objectnet(fx.write_objectnet(tmp_path / "on", {"chair": 1}))
    id_set, shift = pair_with_val(val, on)
    assert shift.id_set == id_set.name == "imagenet-val-on-objectnet-classes" and len(id_set) == 5
    with pytest.raises(ValueError, match="restrict a 1000-class val set"):
        restrict_to_classes(id_set, imagenet_r_classes())


def test_collapse_logits_by_hand():
    logits = torch.tensor([[1.0, 5.0, 2.0, 0.0], [4.0, -1.0, 3.0, 7.0]])
    got = collapse_logits(logits, [(0, 2), (1,), (3, 1)])
    assert torch.equal(got, torch.tensor([[2.0, 5.0, 5.0], [4.0, -1.0, 7.0]]))
    assert torch.equal(collapse_logits(logits, [(3,), (0,)]), torch.tensor([[0.0, 1.0], [7.0, 4.0]]))
    with pytest.raises(ValueError, match="non-empty"):
        collapse_logits(logits, [(0,), ()])


def test_collapse_logits_objectnet_and_r_against_a_loop():
    logits = torch.randn(3, 5, 1000, generator=torch.Generator().manual_seed(0))
    for classes in (objectnet_classes(), imagenet_r_classes()):
        got = collapse_logits(logits, classes.in1k_groups)
        assert got.shape == (3, 5, len(classes))
        for k, group in enumerate(classes.in1k_groups):
            ref = torch.stack([logits[..., i] for i in group]).amax(dim=0)
            assert torch.equal(got[..., k], ref)
    ramp = torch.arange(1000.0)
    got = collapse_logits(ramp, objectnet_classes().in1k_groups)
    assert (got[17].item(), got[77].item(), got[0].item()) == (765.0, 689.0, 530.0)  # max id of each group
