"""``HFGenerativeVLM.loglikelihood_batch``: many questions in two forwards, scores as one question at a time."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vlmrobust.models.batched_scoring import collate_prefixes
from vlmrobust.models.hf_vlm import load_vlm

# Prompt lengths differ (left padding happens), and so do option counts and lengths (right padding).
PROMPTS = ["Pick", "Which shape is in this photo? Answer with one word, please.", "What colour is it?"]
OPTIONS = [
    [" A", " B"],
    [" a red square", " circle", " a photo of a dog to the left of a green triangle", " star", " hexagon"],
    [" blue", " a green triangle", " red"],
]


def _image(seed: int, size: tuple[int, int] = (40, 50)) -> Image.Image:
    rgb = np.random.default_rng(seed).integers(0, 256, size=(*size, 3), dtype=np.uint8)
    return Image.fromarray(rgb)


def _assert_matches_one_by_one(vlm, images, prompts, options) -> list:
    """Batched scores equal per-question ``loglikelihood`` and naive per-option full forwards (1e-4, fp32)."""
    batch = vlm.loglikelihood_batch(images, prompts, options)
    assert len(batch) == len(prompts)
    for b, (prompt, opts) in enumerate(zip(prompts, options, strict=True)):
        image = None if images is None else images[b]
        single = vlm.loglikelihood(image, prompt, opts)
        naive = vlm.loglikelihood(image, prompt, opts, shared_prefix=False)
        assert batch[b].sum.shape == (len(opts),) and batch[b].sum.dtype == torch.float32
        assert batch[b].num_tokens.tolist() == naive.num_tokens.tolist()
        torch.testing.assert_close(batch[b].sum, single.sum, atol=1e-4, rtol=0)
        torch.testing.assert_close(batch[b].sum, naive.sum, atol=1e-4, rtol=0)
        torch.testing.assert_close(batch[b].mean, naive.mean, atol=1e-4, rtol=0)
    return batch


@pytest.mark.parametrize("with_images", ["all", "none", "mixed"])
def test_batch_equals_per_question_and_naive(family, tiny_vlms, with_images) -> None:
    vlm = tiny_vlms[family]
    images = {
        "all": [_image(0), _image(1), _image(2)],
        "none": None,
        "mixed": [_image(0), None, _image(2)],
    }[with_images]
    batch = _assert_matches_one_by_one(vlm, images, PROMPTS, OPTIONS)
    if with_images == "all":  # the images matter, so each question saw its own
        text_only = vlm.loglikelihood_batch(None, PROMPTS, OPTIONS)
        assert max(float((a.sum - b.sum).abs().max()) for a, b in zip(batch, text_only, strict=True)) > 1e-3


def test_order_of_questions_does_not_change_scores(family, tiny_vlms) -> None:
    vlm = tiny_vlms[family]
    images = [_image(0), _image(1), None]
    forward = vlm.loglikelihood_batch(images, PROMPTS, OPTIONS)
    order = [2, 0, 1]
    shuffled = vlm.loglikelihood_batch(
        [images[i] for i in order], [PROMPTS[i] for i in order], [OPTIONS[i] for i in order]
    )
    for j, i in enumerate(order):
        torch.testing.assert_close(shuffled[j].sum, forward[i].sum, atol=1e-4, rtol=0)
    # a question alone and the same question among others
    alone = vlm.loglikelihood_batch(images[1:2], PROMPTS[1:2], OPTIONS[1:2])[0]
    torch.testing.assert_close(alone.sum, forward[1].sum, atol=1e-4, rtol=0)


def test_single_token_options_only(family, tiny_vlms) -> None:
    vlm = tiny_vlms[family]
    options = [[" A", " B"], [" C"], [" A", " B", " D"]]
    images = [_image(3), _image(4), _image(5)]
    _assert_matches_one_by_one(vlm, images, PROMPTS, options)


def test_idefics3_images_with_different_tile_counts(tiny_vlm_dirs) -> None:
    """Images split into different numbers of tiles: the batch pads the tile dimension with zero images."""
    vlm = load_vlm(f"hf:{tiny_vlm_dirs['idefics3']}")
    vlm.processor.image_processor.do_image_splitting = True
    vlm.processor.image_processor.size = {"longest_edge": 64}  # tiles of 32 px, plus the global image
    images = [_image(0, (60, 64)), _image(1, (20, 64)), None]
    tiles = [vlm.encode_prompt(i, "q")["pixel_values"].shape[1] for i in images[:2]]
    assert tiles == [5, 3]  # 2x2 and 1x2 tiles, each + 1 global image
    _assert_matches_one_by_one(vlm, images, PROMPTS, OPTIONS)


def test_collate_prefixes_left_pads_and_concatenates() -> None:
    a = {
        "input_ids": torch.tensor([[7, 8, 9]]),
        "attention_mask": torch.ones(1, 3, dtype=torch.long),
        "pixel_values": torch.ones(1, 2, 3),
    }
    b = {"input_ids": torch.tensor([[5]]), "attention_mask": torch.ones(1, 1, dtype=torch.long)}
    c = {**b, "pixel_values": torch.full((1, 1, 3), 2.0)}
    batch = collate_prefixes([a, b, c], pad_token_id=0)
    assert batch["input_ids"].tolist() == [[7, 8, 9], [0, 0, 5], [0, 0, 5]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1], [0, 0, 1]]
    expected = torch.stack([torch.ones(2, 3), torch.tensor([[2.0] * 3, [0.0] * 3])])  # b has no image
    torch.testing.assert_close(batch["pixel_values"], expected)


def test_mismatched_lengths_and_bad_input(tiny_vlms) -> None:
    vlm = tiny_vlms["llava"]
    with pytest.raises(ValueError, match=r"images, prompts and continuations.*2 images, 3 prompts and 3"):
        vlm.loglikelihood_batch([_image(0), _image(1)], PROMPTS, OPTIONS)
    with pytest.raises(ValueError, match=r"3 prompts and 2 continuation lists"):
        vlm.loglikelihood_batch(None, PROMPTS, OPTIONS[:2])
    with pytest.raises(TypeError, match="single str"):
        vlm.loglikelihood_batch(None, "q", [[" a"]])
    with pytest.raises(TypeError, match="single str"):
        vlm.loglikelihood_batch(None, ["q"], [" a"])
    with pytest.raises(ValueError, match="at least one token"):
        vlm.loglikelihood_batch(None, ["q", "r"], [[" a"], [" b", ""]])
    assert vlm.loglikelihood_batch(None, [], []) == []
