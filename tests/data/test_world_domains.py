"""Rendering of every domain: determinism, disjoint splits, every class visible, shift properties."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image

from vlmrobust.data.world import CLASS_NAMES, DOMAINS, SHIFTS, ProceduralWorld, get_domain
from vlmrobust.data.world.geometry import place, shape_rings
from vlmrobust.data.world.raster import fill_mask, outline_mask

K = len(CLASS_NAMES)


def _digest(img: Image.Image) -> str:
    return hashlib.sha1(img.tobytes()).hexdigest()


def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.float32) / 255.0


def test_domains_are_the_id_and_five_shifts_with_stable_distinct_ids():
    assert next(iter(DOMAINS)) == "id"
    assert set(SHIFTS) == {"reproduction", "sketch", "rendition", "clutter", "pose"}
    ids = [d.domain_id for d in DOMAINS.values()]
    assert ids == [0, 1, 2, 3, 4, 5]
    with pytest.raises(KeyError, match=r"Did you mean 'sketch'.*Valid domains: clutter, id, pose"):
        get_domain("skecth")


@pytest.mark.parametrize("image_size", [32, 48])
def test_every_class_renders_in_every_domain(image_size):
    world = ProceduralWorld(seed=3, image_size=image_size)
    for domain in DOMAINS:
        for i in range(K):
            s = world.sample(domain, "eval", i)
            assert s.label == i and s.attrs["shape"] == CLASS_NAMES[i]
            assert s.image.mode == "RGB" and s.image.size == (image_size, image_size)
            a = _arr(s.image)
            # the object stands out: some pixels are far from the median (background) colour
            far = np.abs(a - np.median(a.reshape(-1, 3), axis=0)).max(-1) > 0.25
            assert far.mean() > 0.02, (domain, CLASS_NAMES[i])


def test_same_sample_whatever_the_order_or_instance():
    a, b = ProceduralWorld(seed=7), ProceduralWorld(seed=7)
    for domain in DOMAINS:
        fwd = [_digest(a.sample(domain, "train", i).image) for i in range(20)]
        bwd = [_digest(b.sample(domain, "train", i).image) for i in reversed(range(20))][::-1]
        assert fwd == bwd, domain
        assert a.sample(domain, "train", 5).caption == b.sample(domain, "train", 5).caption
    other = ProceduralWorld(seed=8)
    assert _digest(other.sample("id", "train", 0).image) != _digest(a.sample("id", "train", 0).image)


def test_train_and_eval_never_share_samples():
    world = ProceduralWorld(seed=0)
    for domain in DOMAINS:
        train = {_digest(world.sample(domain, "train", i).image) for i in range(100)}
        evals = {_digest(world.sample(domain, "eval", i).image) for i in range(100)}
        assert len(train) == 100 and len(evals) == 100  # no duplicates within a split either
        assert not train & evals, domain


def test_domains_draw_from_independent_streams():
    world = ProceduralWorld(seed=0)
    id_attrs = [world.sample("id", "eval", i).attrs["colour"] for i in range(40)]
    rep_attrs = [world.sample("reproduction", "eval", i).attrs["colour"] for i in range(40)]
    assert id_attrs != rep_attrs  # same recipe, independent sample


def test_sketch_is_a_grey_outline():
    world = ProceduralWorld(seed=0)
    ink_sketch, ink_id = [], []
    for i in range(3 * K):
        sk, filled = _arr(world.sample("sketch", "eval", i).image), _arr(world.sample("id", "eval", i).image)
        assert np.array_equal(sk[..., 0], sk[..., 1]) and np.array_equal(sk[..., 1], sk[..., 2])
        ink_sketch.append((sk.mean(-1) < 0.6).mean())
        bg = np.median(filled.reshape(-1, 3), axis=0)
        ink_id.append((np.abs(filled - bg).max(-1) > 0.25).mean())
    assert min(ink_sketch) > 0  # there is a drawing
    assert np.mean(ink_sketch) < 0.6 * np.mean(ink_id)  # outline covers less than the filled shape
    coloured = _arr(world.sample("id", "eval", 0).image)
    assert not np.array_equal(coloured[..., 0], coloured[..., 2])  # the ID domain is not grey


def test_outline_lies_on_the_boundary_of_the_filled_mask():
    rings = place(shape_rings("square", np.random.default_rng(0)), 16, 16, 10)
    filled, outline = fill_mask(rings, 32), outline_mask(rings, 32, 1.0)
    assert filled[16, 16] == 1.0 and outline[16, 16] == 0.0  # inside: filled, not outlined
    assert outline[6, 16] > 0.4 and outline[16, 26] > 0.4  # the square's top and right edges
    assert np.isclose(
        filled.sum(), 20 * 20, rtol=0.05
    )  # area of a 20 px square (PIL fills edges inclusively)


def test_shifts_move_their_nuisance_factor():
    world = ProceduralWorld(seed=0)
    n = 120
    ang = [abs(world.sample("id", "eval", i).attrs["angle"]) for i in range(n)]
    pose = [
        min(a % 90, 90 - a % 90) for a in (world.sample("pose", "eval", i).attrs["angle"] for i in range(n))
    ]
    assert max(ang) <= 10 and np.mean(pose) > 15  # pose rotates far beyond the ID jitter
    rend = [world.sample("rendition", "eval", i).attrs for i in range(n)]
    assert {a["pattern"] for a in rend} == {"striped", "dotted", "checkered", "shaded"}
    from vlmrobust.data.world import COLOURS

    assert not {a["colour"] for a in rend} & set(COLOURS)  # another palette
    clutter = [world.sample("clutter", "eval", i).attrs for i in range(n)]
    assert all(2 <= len(a["distractors"]) <= 5 and a["shape"] not in a["distractors"] for a in clutter)


def test_bad_world_arguments():
    with pytest.raises(ValueError, match="image_size"):
        ProceduralWorld(image_size=4)
    with pytest.raises(ValueError, match="seed"):
        ProceduralWorld(seed=-1)
    with pytest.raises(KeyError, match="Did you mean 'train'"):
        ProceduralWorld().sample("id", "trian", 0)
