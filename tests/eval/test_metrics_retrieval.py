"""Chunked retrieval ranks against a hand case and against dense references (full score matrix: stable sort
for exact ranks, ``torch.topk`` recall as CLIP_benchmark), with forced ties; recall@K by hand."""

import pytest
import torch

from vlmrobust.eval.metrics import Accuracy, recall_at_k, retrieval_ranks


def test_ranks_by_hand_with_ties_to_the_lowest_index():
    image = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])  # image 2 duplicates image 0
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
    text_image = torch.tensor([2, 1, 0, 0])
    # scores (caption x image): [1 0 1], [0 1 0], [1 1 1], [1 0 1]
    # t2i: caption 0's image 2 ties image 0, which has the lower index -> rank 1; the rest rank 0
    # i2t: image 0's best own captions (2, 3) score 1, caption 0 ties them with a lower index -> rank 1;
    #      image 1's caption 1 is ahead of caption 2 (tie, higher index); image 2's caption 0 comes first
    for chunk in (1, 2, 3, 4, 100):
        t2i, i2t = retrieval_ranks(image, text, text_image, chunk=chunk)
        assert t2i.tolist() == [1, 0, 0, 0]
        assert i2t.tolist() == [1, 0, 0]


def _dense_ranks(image, text, text_image):
    """Exact ranks from the full score matrix, ties to the lowest index (stable descending sort)."""
    scores = text @ image.T  # [T, I]
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices
    t2i = (order == text_image[:, None]).int().argmax(1)
    order = torch.sort(scores.T, dim=1, descending=True, stable=True).indices  # [I, T]
    i2t = (text_image[order] == torch.arange(image.shape[0])[:, None]).int().argmax(1)
    return t2i, i2t


def _dense_topk_recall(scores, text_image, ks, lowest_index_first=False):
    """CLIP_benchmark's recall@K: ``torch.topk`` over the full matrix [T, I], a hit when a positive is in the
    top K (text->image per caption; image->text per image, any of its captions).

    ``torch.topk`` orders tied scores arbitrarily; ``lowest_index_first`` subtracts index * 1e-6 from
    integer-valued scores (exact in float64) so that it takes the lowest index first, the rule DESIGN fixes.
    """
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(scores)), text_image] = True
    t2i_scores, i2t_scores = scores.double(), scores.T.double()
    if lowest_index_first:
        t2i_scores = t2i_scores - torch.arange(scores.shape[1]) * 1e-6
        i2t_scores = i2t_scores - torch.arange(scores.shape[0]) * 1e-6
    out = {}
    for k in ks:
        t2i = positive.gather(1, torch.topk(t2i_scores, k, dim=1).indices).any(1)
        i2t = positive.T.gather(1, torch.topk(i2t_scores, k, dim=1).indices).any(1)
        out[k] = (int(t2i.sum()), int(i2t.sum()))
    return out


def _data(seed, num_images, num_texts, dim, integer):
    g = torch.Generator().manual_seed(seed)
    if integer:  # small integers: exact dot products in any order, many exact ties
        image = torch.randint(-1, 2, (num_images, dim), generator=g).float()
        text = torch.randint(-1, 2, (num_texts, dim), generator=g).float()
        image[1] = image[0]  # duplicate images and captions force ties with the gold
        text[1] = text[0]
    else:
        image = torch.nn.functional.normalize(torch.randn(num_images, dim, generator=g), dim=1)
        text = torch.nn.functional.normalize(torch.randn(num_texts, dim, generator=g), dim=1)
    own = torch.arange(num_images).repeat(num_texts // num_images + 1)[:num_texts]
    return image, text, own[torch.randperm(num_texts, generator=g)]


@pytest.mark.parametrize("integer", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_chunked_ranks_equal_the_dense_reference(seed, integer):
    image, text, text_image = _data(seed, 37, 181, 4 if integer else 32, integer)
    ref_t2i, ref_i2t = _dense_ranks(image, text, text_image)
    assert (ref_t2i > 0).any() and (ref_i2t > 0).any()
    for chunk in (1, 7, 64, 181, 1000):
        t2i, i2t = retrieval_ranks(image, text, text_image, chunk=chunk)
        assert torch.equal(t2i, ref_t2i) and torch.equal(i2t, ref_i2t)


@pytest.mark.parametrize("integer", [True, False])
def test_recall_equals_clip_benchmark_topk_recall(integer):
    image, text, text_image = _data(5, 50, 250, 4 if integer else 64, integer)
    reference = _dense_topk_recall(text @ image.T, text_image, [1, 5, 10], lowest_index_first=integer)
    t2i, i2t = retrieval_ranks(image, text, text_image, chunk=16)
    r_t2i, r_i2t = recall_at_k(t2i), recall_at_k(i2t)
    for k, (hits_t2i, hits_i2t) in reference.items():
        assert r_t2i[k] == Accuracy(hits_t2i, 250) and r_i2t[k] == Accuracy(hits_i2t, 50)
    assert 0 < r_t2i[1].correct < r_t2i[10].correct < 250


def test_recall_at_k_by_hand():
    ranks = torch.tensor([0, 3, 9, 10, 4])
    assert recall_at_k(ranks) == {1: Accuracy(1, 5), 5: Accuracy(3, 5), 10: Accuracy(4, 5)}
    assert recall_at_k(ranks, ks=(11,)) == {11: Accuracy(5, 5)}
    with pytest.raises(ValueError, match="K >= 1"):
        recall_at_k(ranks, ks=(0, 1))


def test_bad_inputs_are_refused():
    image, text = torch.zeros(3, 4), torch.zeros(5, 4)
    own = torch.tensor([0, 1, 2, 0, 1])
    with pytest.raises(ValueError, match=r"\[I, D\] and \[T, D\]"):
        retrieval_ranks(image, torch.zeros(5, 3), own)
    with pytest.raises(ValueError, match="long tensor"):
        retrieval_ranks(image, text, own.int())
    with pytest.raises(ValueError, match=r"lie in \[0, 3\)"):
        retrieval_ranks(image, text, torch.tensor([0, 1, 2, 3, 0]))
    with pytest.raises(ValueError, match=r"image\(s\) \[2\] have no caption"):
        retrieval_ranks(image, text, torch.tensor([0, 1, 0, 0, 1]))
    with pytest.raises(ValueError, match="chunk must be >= 1"):
        retrieval_ranks(image, text, own, chunk=0)
    nan_image = image.clone()
    nan_image[2, 0] = float("nan")
    with pytest.raises(ValueError, match=r"caption\(s\) \[2\] score their own image NaN"):
        retrieval_ranks(nan_image, text, own)
