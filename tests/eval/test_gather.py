"""Exact de-duplication of distributed-sampler padding when gathering per-sample rows."""

import torch

from vlmrobust.eval.gather import PredictionBuffer, gather_rows


def _fake_all_gather(per_rank: list[torch.Tensor]):
    """Simulate LightningModule.all_gather for ``len(per_rank)`` ranks: each call stacks rank values."""
    calls = iter([[torch.tensor([t.shape[0]]) for t in per_rank], None])

    def all_gather(x: torch.Tensor) -> torch.Tensor:
        first = next(calls)
        if first is not None:  # the length exchange
            return torch.stack(first)
        max_len = x.shape[0]
        padded = []
        for t in per_rank:
            p = torch.full((max_len, t.shape[1]), -1, dtype=t.dtype)
            p[: t.shape[0]] = t
            padded.append(p)
        return torch.stack(padded)

    return all_gather


def _rows(index, pred, label):
    buf = PredictionBuffer()
    index, pred, label = map(torch.tensor, (index, pred, label))
    buf.add(index, pred, label, pred == label)
    return buf.stacked()


def test_single_process_is_identity_up_to_order():
    rows = _rows([3, 1, 2], [0, 1, 1], [0, 0, 1])
    out = gather_rows(rows, lambda x: x)
    assert out[:, 0].tolist() == [1, 2, 3]
    assert out[:, 3].tolist() == [0, 1, 1]


def test_padding_duplicates_are_counted_once():
    # DistributedSampler with 5 samples on 2 ranks: rank0 gets 0,2,4 and rank1 gets 1,3,0 (0 is padding).
    rank0 = _rows([0, 2, 4], [1, 2, 0], [1, 2, 4])
    rank1 = _rows([1, 3, 0], [1, 0, 1], [1, 3, 1])
    out = gather_rows(rank0, _fake_all_gather([rank0, rank1]))
    assert out[:, 0].tolist() == [0, 1, 2, 3, 4]
    # by hand: sample 0 correct, 1 correct, 2 correct, 3 wrong, 4 wrong -> 3/5 (not 4/6 with the duplicate)
    assert out[:, 3].sum().item() == 3


def test_uneven_lengths_are_unpadded():
    rank0 = _rows([0, 1, 2], [0, 0, 0], [0, 0, 0])
    rank1 = _rows([3], [1], [0])
    out = gather_rows(rank0, _fake_all_gather([rank0, rank1]))
    assert out.shape == (4, 4)
    assert (out[:, 0] >= 0).all()
    assert out[:, 3].tolist() == [1, 1, 1, 0]
