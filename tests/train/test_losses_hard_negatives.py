"""NegCLIP and HP+HN losses against values computed by hand (plain Python, no torch) and open_clip's ClipLoss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vlmrobust.train.losses import HardPositiveNegativeLoss, InfoNCE, NegCLIPLoss


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _ce(logits: list[float], target: int) -> float:
    return -logits[target] + math.log(sum(math.exp(v) for v in logits))


def _t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def test_negclip_2x2_with_two_negatives_each_by_hand() -> None:
    images, texts = [[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]
    negatives = [[[0.6, 0.8], [-1.0, 0.0]], [[0.8, 0.6], [0.0, -1.0]]]  # k = 2 per image
    scale = 2.0
    # image i against [c_0, c_1, n_00, n_01, n_10, n_11] (every image's negatives are columns)
    columns = texts + [n for per_image in negatives for n in per_image]
    i2t = [_ce([scale * _dot(img, c) for c in columns], i) for i, img in enumerate(images)]
    t2i = [_ce([scale * _dot(txt, img) for img in images], i) for i, txt in enumerate(texts)]
    # row 0: logits 2·[1, 0, .6, -1, .8, 0]; row 1: 2·[0, 1, .8, 0, .6, -1]
    assert i2t[0] == pytest.approx(-2 + math.log(math.e**2 + 1 + math.e**1.2 + math.e**-2 + math.e**1.6 + 1))
    expected = (sum(i2t) / 2 + sum(t2i) / 2) / 2
    loss = NegCLIPLoss()(
        _t(images), _t(texts), torch.tensor(negatives, dtype=torch.float64), torch.tensor(scale)
    )
    assert float(loss) == pytest.approx(expected, abs=1e-12)


def test_negclip_3x3_by_hand_and_without_negatives_it_is_clip() -> None:
    s = 1 / math.sqrt(2)
    images = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    texts = [[s, s, 0.0], [0.0, 1.0, 0.0], [0.0, s, s]]
    negatives = [
        [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]],
        [[s, 0.0, s], [0.0, 0.0, 1.0]],
        [[1.0, 0.0, 0.0], [0.0, 0.0, -1.0]],
    ]
    scale = 3.0
    columns = texts + [n for per_image in negatives for n in per_image]
    i2t = sum(_ce([scale * _dot(img, c) for c in columns], i) for i, img in enumerate(images)) / 3
    t2i = sum(_ce([scale * _dot(txt, img) for img in images], i) for i, txt in enumerate(texts)) / 3
    loss = NegCLIPLoss()(
        _t(images), _t(texts), torch.tensor(negatives, dtype=torch.float64), torch.tensor(scale)
    )
    assert float(loss) == pytest.approx((i2t + t2i) / 2, abs=1e-12)
    none = torch.zeros(3, 0, 3, dtype=torch.float64)  # k = 0: exactly CLIP's symmetric InfoNCE
    clip = InfoNCE()(_t(images), _t(texts), torch.tensor(scale))
    assert float(NegCLIPLoss()(_t(images), _t(texts), none, torch.tensor(scale))) == pytest.approx(
        float(clip), abs=1e-12
    )


def _hp_hn_by_hand(images, texts, positives, negatives, carried: int, scale: float) -> float:
    columns = texts + positives + negatives[:carried]
    n = len(images)
    i2t = 0.0
    for i, img in enumerate(images):
        logits = [scale * _dot(img, c) for c in columns]
        i2t += (_ce(logits, i) + _ce(logits, n + i)) / 2  # both positives, one softmax over every text
    t2i = sum(_ce([scale * _dot(t, img) for img in images], i % n) for i, t in enumerate(texts + positives))
    return (i2t / n + t2i / (2 * n)) / 2


@pytest.mark.parametrize(("ratio", "carried"), [(1.0, 2), (0.5, 1), (0.0, 0)])
def test_hard_positives_and_negatives_2x2_by_hand(ratio: float, carried: int) -> None:
    images, texts = [[1.0, 0.0], [0.0, 1.0]], [[0.8, 0.6], [0.0, 1.0]]
    positives, negatives = [[1.0, 0.0], [0.6, 0.8]], [[0.6, 0.8], [-1.0, 0.0]]
    scale = 2.0
    loss = HardPositiveNegativeLoss(hard_negative_ratio=ratio)(
        _t(images), _t(texts), _t(positives), _t(negatives), torch.tensor(scale)
    )
    assert float(loss) == pytest.approx(
        _hp_hn_by_hand(images, texts, positives, negatives, carried, scale), abs=1e-12
    )


def test_hard_positives_3x3_by_hand_and_a_hard_negative_raises_the_loss() -> None:
    s = 1 / math.sqrt(2)
    images = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    texts = [[1.0, 0.0, 0.0], [s, s, 0.0], [0.0, 0.0, 1.0]]
    positives = [[s, 0.0, s], [0.0, 1.0, 0.0], [0.0, s, s]]
    negatives = [[s, s, 0.0], [0.0, s, s], [1.0, 0.0, 0.0]]
    args = (_t(images), _t(texts), _t(positives), _t(negatives), torch.tensor(4.0))
    with_hn = HardPositiveNegativeLoss(1.0)(*args)
    without = HardPositiveNegativeLoss(0.0)(*args)
    assert float(with_hn) == pytest.approx(
        _hp_hn_by_hand(images, texts, positives, negatives, 3, 4.0), abs=1e-12
    )
    assert float(without) == pytest.approx(
        _hp_hn_by_hand(images, texts, positives, negatives, 0, 4.0), abs=1e-12
    )
    assert float(with_hn) > float(without)  # extra negative columns only add to each softmax's denominator


def test_losses_name_bad_shapes_and_train_their_features() -> None:
    images = F.normalize(
        torch.randn(4, 8, generator=torch.Generator().manual_seed(0)), dim=-1
    ).requires_grad_()
    texts = F.normalize(torch.randn(4, 8, generator=torch.Generator().manual_seed(1)), dim=-1)
    with pytest.raises(ValueError, match=r"negative_features must be \[B, k, D\] with B = 4, got \(8, 8\)"):
        NegCLIPLoss()(images, texts, torch.zeros(8, 8), torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"positive_features must be \[B, D\] = \(4, 8\), got \(3, 8\)"):
        HardPositiveNegativeLoss()(images, texts, texts[:3], texts, torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"hard_negative_ratio must be in \[0, 1\]"):
        HardPositiveNegativeLoss(1.5)
    NegCLIPLoss()(images, texts, texts[:, None].roll(1, 0), torch.tensor(10.0)).backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


_WORKER = """
import sys, torch, torch.distributed as dist
from vlmrobust.train.losses import HardPositiveNegativeLoss, NegCLIPLoss

dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
inputs = torch.load(sys.argv[1])
b = inputs["images"].shape[0] // world
rows = slice(rank * b, (rank + 1) * b)
out = {}
for name, loss, args in (("negclip", NegCLIPLoss(), ("texts", "negatives")),
                         ("hphn", HardPositiveNegativeLoss(1.0), ("texts", "positives", "flat_negatives"))):
    images = inputs["images"][rows].clone().requires_grad_()
    loss.setup_ranks(rank, world)
    value = loss(images, *(inputs[a][rows] for a in args), torch.tensor(2.0))
    value.backward()
    out[name] = (value.detach(), images.grad)
torch.save(out, f"{sys.argv[2]}/rank{rank}.pt")
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_two_ranks_give_the_single_process_loss_and_gradient(tmp_path) -> None:
    """Each of 2 gloo ranks (torchrun) holds half the batch: the gathered loss is the global one, and each
    rank's feature gradient is world_size times the single-process gradient of its rows (DDP then averages)."""
    import os
    import socket
    import subprocess
    import sys

    gen = torch.Generator().manual_seed(0)

    def unit(*shape: int) -> torch.Tensor:
        return F.normalize(torch.randn(*shape, generator=gen, dtype=torch.float64), dim=-1)

    inputs = {"images": unit(4, 6), "texts": unit(4, 6), "positives": unit(4, 6), "negatives": unit(4, 2, 6)}
    inputs["flat_negatives"] = inputs["negatives"][:, 0]
    torch.save(inputs, tmp_path / "inputs.pt")
    (tmp_path / "worker.py").write_text(_WORKER)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", str(port),
           str(tmp_path / "worker.py"), str(tmp_path / "inputs.pt"), str(tmp_path)]  # fmt: skip
    done = subprocess.run(
        cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for name, loss, args in (
        ("negclip", NegCLIPLoss(), ("texts", "negatives")),
        ("hphn", HardPositiveNegativeLoss(1.0), ("texts", "positives", "flat_negatives")),
    ):
        images = inputs["images"].clone().requires_grad_()
        value = loss(images, *(inputs[a] for a in args), torch.tensor(2.0))
        value.backward()
        for rank, out in enumerate(ranks):
            got, grad = out[name]
            assert float(got) == pytest.approx(float(value), abs=1e-12), name
            torch.testing.assert_close(grad / 2, images.grad[2 * rank : 2 * rank + 2], atol=1e-12, rtol=0)
