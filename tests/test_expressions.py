"""Expression specs -> condition vectors."""

import numpy as np
import pytest
import torch

from hf_segan.constants import EXPRESSIONS
from hf_segan.expressions import expression_condition, label_conditions, parse_expression_arg


def onehot(name):
    vector = torch.zeros(len(EXPRESSIONS))
    vector[EXPRESSIONS.index(name)] = 1.0
    return vector


def test_names_indices_and_vectors_agree():
    assert torch.equal(expression_condition("Happy"), onehot("happy"))
    assert torch.equal(expression_condition(EXPRESSIONS.index("anger")), onehot("anger"))
    assert torch.equal(expression_condition(np.eye(len(EXPRESSIONS))[3]), onehot(EXPRESSIONS[3]))


def test_intensity_interpolates_from_neutral():
    half = expression_condition("sad", 0.25)
    assert torch.allclose(half, 0.75 * onehot("neutral") + 0.25 * onehot("sad"))
    assert torch.equal(expression_condition("surprise", 0.0), onehot("neutral"))


def test_batched_label_conditions_match_the_single_condition():
    labels = torch.tensor([EXPRESSIONS.index(name) for name in ("happy", "sad", "neutral")])
    expected = torch.stack([onehot("happy"), 0.5 * onehot("neutral") + 0.5 * onehot("sad"), onehot("neutral")])
    assert torch.allclose(label_conditions(labels, torch.tensor([1.0, 0.5, 0.0])), expected)
    assert torch.equal(label_conditions(labels), torch.stack([onehot(n) for n in ("happy", "sad", "neutral")]))
    with pytest.raises(ValueError, match=r"one value in \[0, 1\] per label"):
        label_conditions(labels, torch.tensor([1.0, 2.0, 0.0]))


def test_blends_are_normalised():
    blend = expression_condition({"happy": 3, "surprise": 1})
    assert torch.allclose(blend, 0.75 * onehot("happy") + 0.25 * onehot("surprise"))
    assert parse_expression_arg("happy=0.6,surprise=0.4") == {"happy": 0.6, "surprise": 0.4}
    assert parse_expression_arg("fear") == "fear"


@pytest.mark.parametrize(
    ("spec", "intensity", "message"),
    [
        ("smug", 1.0, "Unknown expression 'smug'; valid expressions are: neutral, happy"),
        ("happy", 1.5, r"Intensity must lie in \[0, 1\], got 1.5"),
        (9, 1.0, "out of range"),
        ({"happy": -1.0}, 1.0, "must be finite and >= 0"),
        ({"happy": 0.0}, 1.0, "sum to 0"),
        ([1.0, 0.0], 1.0, "needs 8 weights"),
    ],
)
def test_bad_specs_say_what_is_accepted(spec, intensity, message):
    with pytest.raises(ValueError, match=message):
        expression_condition(spec, intensity)


def test_bad_blend_text():
    with pytest.raises(ValueError, match="Cannot read blend weight 'lots'"):
        parse_expression_arg("happy=lots")
