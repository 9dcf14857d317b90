"""Visual distractors: centroids of a toy encoder on fixture images, nearest picked, cache on disk."""

from __future__ import annotations

import numpy as np
import pytest

from vlmrobust.data.imagenet import fixtures as fx
from vlmrobust.data.imagenet import read_imagenet_val
from vlmrobust.data.mcq import build_mcq, centroid_distance, class_centroids, encode_centroids

CLASSES = (0, 3, 7, 12, 20, 33, 41, 58)  # fixture images are uniform class_color(k) squares


def mean_rgb(images) -> np.ndarray:
    """Toy encoder: the mean colour of each image, (B, 3)."""
    return np.stack([np.asarray(im, dtype=np.float64).reshape(-1, 3).mean(axis=0) for im in images])


def refuse(images) -> np.ndarray:
    raise AssertionError("the encoder must not run when centroids are cached")


@pytest.fixture(scope="module")
def val(tmp_path_factory):
    root = tmp_path_factory.mktemp("val")
    return read_imagenet_val(fx.write_val_folders(root, {n + 1: k for n, k in enumerate(CLASSES)}))


def test_class_centroids_by_hand():
    feats = np.array([[0.0, 2.0], [2.0, 4.0], [10.0, 10.0]])
    got = class_centroids(feats, [1, 1, 0], 3)
    np.testing.assert_allclose(got[:2], [[10.0, 10.0], [1.0, 3.0]])
    assert np.isnan(got[2]).all()  # no sample of class 2
    d = centroid_distance(np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]), "cosine")
    np.testing.assert_allclose(d, [[0, 1, 0], [1, 0, 1], [0, 1, 0]], atol=1e-12)
    e = centroid_distance(np.array([[0.0, 0.0], [3.0, 4.0]]), "euclidean")
    np.testing.assert_allclose(e, [[0, 5], [5, 0]])


def test_visual_picks_nearest_centroids(val, tmp_path):
    centroids = encode_centroids(val, mean_rgb, encoder_name="mean-rgb", cache_dir=tmp_path)
    # class_color: 3 -> (151,153,199), 33 -> (141,163,189), 12 -> (164,172,196), 20 -> (140,100,140):
    # from 3 the nearest are 33 (17.3) and 12 (23.3), then 20 (80); JPEG noise is a few units
    np.testing.assert_allclose(centroids[3], fx.class_color(3), atol=4)
    assert np.isnan(centroids[1]).all()  # no image of class 1
    dist = centroid_distance(centroids, "euclidean")
    bench = build_mcq(val, "visual", num_options=3, num_questions=None, seed=0, centroids_distance=dist)
    by_answer = {q.answer_class: q for q in bench.questions}
    distractors = {k: {c for c in q.options if c != k} for k, q in by_answer.items()}
    assert distractors[3] == {33, 12}
    assert distractors[0] == {41, 20}  # (40,40,40): 41 at 131, 20 at 154, then 58 at 175
    assert bench.stats["mean_visual_distance"] < bench.stats["random_visual_distance"]
    # second call reads the cache (the encoder would fail)
    again = encode_centroids(val, refuse, encoder_name="mean-rgb", cache_dir=tmp_path)
    np.testing.assert_array_equal(again, centroids)
    assert len(list(tmp_path.glob("imagenet-val-mean-rgb-*.npz"))) == 1


def test_encoder_with_wrong_shape(val):
    with pytest.raises(ValueError, match="returned shape"):
        encode_centroids(val, lambda ims: np.zeros((1, 3)), encoder_name="bad", batch_size=4)
