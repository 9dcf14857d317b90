"""Packaged ImageNet metadata and the restricted WordNet hierarchy."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from vlmrobust.data.imagenet import metadata, wordnet
from vlmrobust.data.imagenet.samples import imagenet_a_classes, imagenet_r_classes, objectnet_classes

SHARED = Path(__file__).resolve().parents[4] / "shared" / "data" / "imagenet"


def test_wnids_sorted_with_sanity_facts():
    wnids = metadata.wnids()
    assert len(wnids) == 1000 and list(wnids) == sorted(wnids) and len(set(wnids)) == 1000
    assert wnids[0] == "n01440764" and wnids[999] == "n15075141"
    # data_formats.md §1.1: val_00000001 is n01751748 (sea snake, 65), val_00000002 n09193705 (alp, 970)
    assert metadata.wnid_to_index()["n01751748"] == 65
    assert metadata.wnid_to_index()["n09193705"] == 970


def test_clip_names_and_templates():
    names = metadata.clip_class_names()
    assert names[:5] == ("tench", "goldfish", "great white shark", "tiger shark", "hammerhead shark")
    assert names[-1] == "toilet paper"
    assert names[657] == names[744] == "missile" and names[836] == names[837] == "sunglasses"
    templates = metadata.clip_templates()
    assert len(templates) == 80 and len(set(templates)) == 80
    assert templates[:2] == ("a bad photo of a {}.", "a photo of many {}.")
    assert templates[-2:] == ("a photo of a small {}.", "a tattoo of the {}.")
    assert all(t.count("{}") == 1 for t in templates)


@pytest.mark.parametrize("subset", [imagenet_r_classes, imagenet_a_classes])
def test_r_and_a_subsets(subset):
    classes = subset()
    flat = [g[0] for g in classes.in1k_groups]
    assert len(classes) == 200 and flat == sorted(set(flat))
    wnids = [metadata.wnids()[i] for i in flat]
    assert wnids == sorted(wnids)  # label = rank of the wnid = rank of the IN-1k index
    assert not classes.is_full


def test_r_a_share_86_classes_and_first_entries():
    r, a = metadata.imagenet_r_indices(), metadata.imagenet_a_indices()
    assert r[:5] == (1, 2, 4, 6, 8) and a[:5] == (6, 11, 13, 15, 17)
    assert len(set(r) & set(a)) == 86


def test_objectnet_mapping_matches_appendix_f():
    classes = objectnet_classes()
    assert len(classes) == 113 and len({i for g in classes.in1k_groups for i in g}) == 125
    folders = list(metadata.objectnet_folder_to_in1k())
    assert folders == sorted(folders)
    # Appendix F rows, by hand
    assert (folders[0], classes.in1k_groups[0], classes.names[0]) == (
        "alarm_clock",
        (409, 530),
        "alarm clock",
    )
    assert (folders[17], classes.in1k_groups[17]) == ("chair", (423, 559, 765))
    assert (folders[77], classes.in1k_groups[77]) == ("skirt", (601, 655, 689))
    assert (folders[91], classes.names[91]) == ("t-shirt", "t-shirt")
    assert classes.in1k_to_class[559] == 17 and classes.in1k_to_class[689] == 77
    assert len(metadata.objectnet_folder_labels()) == 313


def test_objectnet_mapping_rederived_with_wise_ft_recipe():
    """Independent reference: derive folder -> IN-1k ids from the four raw mapping files (wise-ft recipe)."""
    raw = {
        name: metadata.read_meta_text(f"objectnet/{name}")
        for name in ("folder_to_objectnet_label.json", "objectnet_to_imagenet_1k.json",
                     "imagenet_to_label_2012_v2", "pytorch_to_imagenet_2012_id.json")
    }  # fmt: skip
    pytorch_to_line = json.loads(raw["pytorch_to_imagenet_2012_id.json"])
    line_to_pytorch = {v: int(k) for k, v in pytorch_to_line.items()}
    name_to_pytorch = {
        line.strip(): line_to_pytorch[i]
        for i, line in enumerate(raw["imagenet_to_label_2012_v2"].splitlines())
    }
    label_to_ids = {
        label: [name_to_pytorch[n] for n in names.split("; ")]
        for label, names in json.loads(raw["objectnet_to_imagenet_1k.json"]).items()
    }
    folder_to_label = json.loads(raw["folder_to_objectnet_label.json"])
    derived = {f: tuple(label_to_ids[lbl]) for f, lbl in folder_to_label.items() if lbl in label_to_ids}
    assert dict(sorted(derived.items())) == metadata.objectnet_folder_to_in1k()


def test_wordnet_restricted_hierarchy_connects_every_class_to_root():
    graph = wordnet.parents()
    assert len(graph) == 1860 and len(wordnet.is_a_edges()) == 1937
    assert [n for n, ps in graph.items() if not ps] == [wordnet.ROOT]
    for wnid in metadata.wnids():
        assert wordnet.ROOT in wordnet.ancestors(wnid), wnid
    # every packaged node is an ancestor-or-self of some class (nothing unneeded was kept)
    needed = set().union(*(wordnet.ancestors(w) for w in metadata.wnids()))
    assert needed == set(graph)


def test_wordnet_ancestors_by_hand():
    names = wordnet.node_names()
    assert names["n01440764"] == "tench, Tinca tinca" and names[wordnet.ROOT] == "entity"
    up = wordnet.ancestors("n01440764")  # tench -> cyprinid -> ... -> entity
    assert up["n01440764"] == 0
    assert len(wordnet.parents()["n01440764"]) == 1 and up[wordnet.parents()["n01440764"][0]] == 1
    with pytest.raises(KeyError, match="n99999999"):
        wordnet.ancestors("n99999999")


def test_metadata_is_package_data_not_shared():
    path = Path(str(resources.files("vlmrobust.data.imagenet").joinpath("meta", "imagenet_meta.json")))
    assert "shared" not in path.parts and path.is_file()
    assert (path.parent / "SOURCES.md").is_file()


@pytest.mark.skipif(not SHARED.is_dir(), reason="reference copy in ../shared not present")
def test_packaged_copies_equal_the_reference_files():
    assert metadata.read_meta_text("imagenet_meta.json") == (SHARED / "imagenet_meta.json").read_text()
    for name in ("folder_to_objectnet_label.json", "objectnet_folder_to_in1k.json"):
        assert metadata.read_meta_text(f"objectnet/{name}") == (SHARED / name).read_text()
    full = {tuple(line.split()) for line in (SHARED / "wordnet" / "is_a.txt").read_text().splitlines()}
    assert set(wordnet.is_a_edges()) <= full
