"""The losses and picks the lecture builds a classifier from: s[i] and slices, the multiclass SVM
loss, softmax cross-entropy with a class label, log_softmax; on the course's three-image example
(scores for cat, car, frog). Every gradient is also cross-checked by `evaluate` itself."""

import numpy as np
import pytest

from backprop_cli.errors import ShapeError
from backprop_cli.evaluate import evaluate

# CS231n's scores for three images over the classes (cat, car, frog); the correct classes are
# cat, car and frog in turn.
CAT, CAR, FROG = [3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]


def run(program, **at):
    result = evaluate(program, {k: np.array(v) for k, v in at.items()})
    assert not result.failed, result.rows
    return result.value, result.gradients


@pytest.mark.parametrize("scores, label, loss", [(CAT, 0, 2.9), (CAR, 1, 0.0), (FROG, 2, 12.9)])
def test_multiclass_svm_loss_of_the_three_images(scores, label, loss):
    value, _ = run(f"svm_loss(s, {label})", s=scores)
    assert value == pytest.approx(loss)


def test_svm_gradient_pushes_the_violating_class_down_and_the_correct_one_up():
    # cat: only car's margin 5.1 - 3.2 + 1 > 0 is active.
    _, g = run("svm_loss(s, 0)", s=CAT)
    assert g["s"].tolist() == [-1.0, 1.0, 0.0]


def test_cross_entropy_with_a_class_label_is_the_one_hot_loss():
    value, g = run("cross_entropy(s, 0)", s=CAT)
    assert value == pytest.approx(2.04, abs=5e-3)  # -log(0.13), the notes' cat loss
    one_hot, g_hot = run("cross_entropy(s, t)", s=CAT, t=[1.0, 0.0, 0.0])
    assert value == pytest.approx(one_hot, rel=1e-15)
    np.testing.assert_allclose(g["s"], g_hot["s"], rtol=1e-15)


def test_log_softmax_picks_out_the_same_loss():
    value, g = run("-log_softmax(s)[0]", s=CAT)
    ce, g_ce = run("cross_entropy(s, 0)", s=CAT)
    assert value == pytest.approx(ce, rel=1e-14)
    np.testing.assert_allclose(g["s"], g_ce["s"], rtol=1e-12)


def test_indexing_and_slices_route_the_gradient_to_the_entries_taken():
    _, g = run("s[1] * 2 + sum(s[1:]) + W[1][0]", s=CAT, W=[[1.0, 2.0], [3.0, 4.0]])
    assert g["s"].tolist() == [0.0, 3.0, 1.0]
    assert g["W"].tolist() == [[0.0, 0.0], [1.0, 0.0]]


@pytest.mark.parametrize("program, message", [
    ("cross_entropy(s, 3)", "the class label 3 is not one of the 3 classes (0..2)"),
    ("svm_loss(s, t)", "the class label of svm_loss() must be a whole number written"),
    ("s[5]", "position 5 is out of range: the first axis has 3 entries"),
    ("sum(s[2:1])", "the slice [2:1] is empty"),
])
def test_bad_positions_and_labels_are_shape_errors(program, message):
    with pytest.raises(ShapeError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        evaluate(program, {"s": np.array(CAT), "t": np.array(1.0)})


def test_a_margin_of_exactly_zero_is_a_kink_and_said_so():
    result = evaluate("svm_loss(s, 0)", {"s": np.array([3.0, 2.0, -1.0])})  # 2 - 3 + 1 = 0
    assert result.gradients["s"].tolist() == [0.0, 0.0, 0.0]  # the hinge counts as off
    assert result.warnings == ("svm_loss(s, 0) is evaluated exactly at a non-differentiable "
                               "point in 1 of 2 entries; backprop uses the subgradient "
                               "convention: a margin of exactly 0 counts as inactive",)
