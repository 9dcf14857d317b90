"""Top-1/top-k with ties, multi-label correctness, ObjectNet-style column collapse and shape checks."""

import pytest
import torch

from vlmrobust.eval.metrics import check_scores, collapse_columns, multilabel_correct, top1, topk_correct


def test_top1_ties_go_to_the_lowest_index():
    logits = torch.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, -1.0, 5.0]])
    assert top1(logits).tolist() == [1, 0, 2]


def test_topk_by_hand():
    logits = torch.tensor([[0.1, 0.5, 0.3, 0.9], [4.0, 3.0, 2.0, 1.0]])
    # row 0 ranks 3, 1, 2, 0; row 1 ranks 0, 1, 2, 3
    assert topk_correct(logits, torch.tensor([2, 2]), k=2).tolist() == [False, False]
    assert topk_correct(logits, torch.tensor([2, 2]), k=3).tolist() == [True, True]
    assert topk_correct(logits, torch.tensor([0, 3]), k=4).tolist() == [True, True]  # k = C: all correct
    assert (
        topk_correct(logits, torch.tensor([3, 0]), k=1).tolist()
        == top1(logits).eq(torch.tensor([3, 0])).tolist()
    )


def test_topk_ties_at_the_kth_place_keep_the_lowest_indices():
    # classes 1, 2, 3 tie for the best score; top-2 is {1, 2}, so label 3 is not among them
    logits = torch.tensor([[0.0, 1.0, 1.0, 1.0]] * 3)
    assert topk_correct(logits, torch.tensor([1, 2, 3]), k=2).tolist() == [True, True, False]
    assert topk_correct(logits, torch.tensor([3, 3, 0]), k=3).tolist() == [True, True, False]


def test_topk_rejects_k_past_c_and_bad_shapes():
    with pytest.raises(ValueError, match="k=5 with C=4"):
        topk_correct(torch.zeros(2, 4), torch.zeros(2, dtype=torch.long), k=5)
    with pytest.raises(ValueError, match="k=0"):
        topk_correct(torch.zeros(2, 4), torch.zeros(2, dtype=torch.long), k=0)
    with pytest.raises(ValueError, match=r"\(2, 4\) and \(3,\)"):
        topk_correct(torch.zeros(2, 4), torch.zeros(3, dtype=torch.long), k=1)


def test_multilabel_prediction_in_the_set_but_not_the_first_label_counts():
    label_sets = torch.tensor(
        [
            [True, False, True, False],  # labels {0, 2}
            [False, True, False, False],  # labels {1}
            [False, False, False, False],  # empty set: nothing is correct
        ]
    )
    pred = torch.tensor([2, 3, 0])
    assert multilabel_correct(pred, label_sets).tolist() == [True, False, False]


def test_multilabel_rejects_shape_mismatch_and_out_of_range():
    with pytest.raises(ValueError, match=r"\(2,\).*\(3, 4\)"):
        multilabel_correct(torch.tensor([0, 1]), torch.zeros(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\[0, 4\).*got \[4, 4\]"):
        multilabel_correct(torch.tensor([4]), torch.zeros(1, 4, dtype=torch.bool))


def test_objectnet_style_collapse_two_columns_to_one_class():
    # five head columns; columns 1 and 3 both belong to class 1, column 4 to class 2
    column_to_class = [0, 1, 2, 1, 2]
    logits = torch.tensor([[0.0, 0.1, 0.2, 0.9, 0.3], [0.5, 0.6, 0.0, 0.0, 0.1], [0.0, 0.0, 0.0, 0.0, 1.0]])
    pred = collapse_columns(top1(logits), column_to_class)
    assert pred.tolist() == [1, 1, 2]
    assert collapse_columns(torch.tensor([3]), torch.tensor(column_to_class)).tolist() == [1]


def test_collapse_rejects_a_column_outside_the_table():
    with pytest.raises(ValueError, match=r"\[0, 2\).*got \[2, 2\]"):
        collapse_columns(torch.tensor([2]), [0, 1])


def test_check_scores_accepts_the_right_shape():
    check_scores(torch.zeros(3, 7), 7, "imagenet-r")


@pytest.mark.parametrize("shape", [(3, 6), (3,), (3, 7, 1)])
def test_check_scores_rejects_wrong_shapes(shape):
    with pytest.raises(ValueError, match=r"imagenet-r: got a score array of shape .* but the eval set has 7"):
        check_scores(torch.zeros(shape), 7, "imagenet-r")
