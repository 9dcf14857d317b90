"""MCQ choice with first-index ties and NaN refusal, correctness with unanswered -1, and CFG by hand."""

import pytest
import torch

from vlmrobust.eval.metrics import cfg_scores, mcq_correct, option_choice


def test_option_choice_ties_to_the_lowest_index():
    scores = torch.tensor([[0.2, 0.7, 0.7], [1.0, 1.0, 1.0], [-3.0, -1.0, -2.0]])
    assert option_choice(scores).tolist() == [1, 0, 1]


def test_option_choice_rejects_nan_and_naming_the_rows():
    scores = torch.tensor([[0.0, 1.0], [float("nan"), 1.0], [0.0, float("nan")]])
    with pytest.raises(ValueError, match=r"\[1, 2\] contain NaN"):
        option_choice(scores)


def test_option_choice_rejects_non_matrix():
    with pytest.raises(ValueError, match=r"\[B, K\].*\(4,\)"):
        option_choice(torch.zeros(4))


def test_mcq_correct_and_no_answer_is_wrong():
    choice = torch.tensor([0, 2, -1, 1])
    answer = torch.tensor([0, 1, 2, 1])
    assert mcq_correct(choice, answer).tolist() == [True, False, False, True]
    all_right = torch.tensor([3, 0])
    assert mcq_correct(all_right, all_right.clone()).tolist() == [True, True]


def test_mcq_correct_rejects_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        mcq_correct(torch.tensor([0, 1]), torch.tensor([0, 1, 2]))


def test_cfg_weighs_the_image_term_by_t():
    with_image = torch.tensor([[-1.0, -2.0]])
    without = torch.tensor([[-0.5, -4.0]])
    # t = 1.5: 1.5·(-1) - 0.5·(-0.5) = -1.25 ; 1.5·(-2) - 0.5·(-4) = -1.0
    torch.testing.assert_close(cfg_scores(with_image, without, 1.5), torch.tensor([[-1.25, -1.0]]))
    torch.testing.assert_close(cfg_scores(with_image, without, 1.0), with_image)
    torch.testing.assert_close(cfg_scores(with_image, without, 0.0), without)
    # guidance changes the choice here: plain likelihood picks option 0, t = 1.5 picks option 1
    assert option_choice(with_image).tolist() == [0]
    assert option_choice(cfg_scores(with_image, without, 1.5)).tolist() == [1]


def test_cfg_rejects_shape_mismatch():
    with pytest.raises(ValueError, match="differ in shape"):
        cfg_scores(torch.zeros(2, 3), torch.zeros(2, 4), 1.0)
