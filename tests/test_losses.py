"""Hand-checkable values of every training objective in hf_segan.losses."""

import math

import pytest
import torch

from hf_segan.losses import (
    attention_magnitude_loss,
    critic_adversarial_loss,
    generator_adversarial_loss,
    gradient_penalty,
    interpolate,
    multiscale_reconstruction_loss,
    parser_loss,
    scale_gradient,
    segmentation_loss,
    total_variation_loss,
)


def _linear_critic(weight):
    return lambda x: (x * weight).flatten(1).sum(1)


def test_gradient_penalty_is_zero_for_unit_norm_linear_critic():
    weight = torch.randn(1, 3, 4, 4)
    weight = weight / weight.norm()
    inputs = torch.randn(5, 3, 4, 4, requires_grad=True)
    assert gradient_penalty(_linear_critic(weight)(inputs), inputs).item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_penalty_for_norm_two_critic_is_one_per_sample():
    weight = torch.randn(1, 3, 4, 4)
    weight = 2 * weight / weight.norm()
    inputs = torch.randn(5, 3, 4, 4, requires_grad=True)
    # ||grad|| = 2 everywhere, so (2 - 1)^2 = 1; two critic outputs -> penalties add up.
    assert gradient_penalty(_linear_critic(weight)(inputs), inputs).item() == pytest.approx(1.0, rel=1e-5)
    scores = [_linear_critic(weight)(inputs), _linear_critic(weight)(inputs)]
    assert gradient_penalty(scores, inputs).item() == pytest.approx(2.0, rel=1e-5)


def test_gradient_penalty_sums_patch_maps_per_sample_and_backpropagates():
    conv = torch.nn.Conv2d(3, 1, 3, bias=False)
    inputs = interpolate(torch.randn(2, 3, 6, 6), torch.randn(2, 3, 6, 6))
    penalty = gradient_penalty(conv(inputs), inputs)
    assert penalty.item() > 0
    penalty.backward()
    assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_gradient_penalty_requires_grad_inputs():
    with pytest.raises(ValueError, match="require grad"):
        gradient_penalty(torch.zeros(2), torch.zeros(2, 3))


def test_hinge_and_wgan_values_on_hand_inputs():
    real = torch.tensor([2.0, 0.5])
    fake = torch.tensor([-2.0, 0.0])
    # hinge critic: mean(relu(1 - [2, .5])) + mean(relu(1 + [-2, 0])) = 0.25 + 0.5
    assert critic_adversarial_loss("hinge", real, fake).item() == pytest.approx(0.75)
    # wgan critic: mean(fake) - mean(real) = -1 - 1.25
    assert critic_adversarial_loss("wgan-gp", real, fake).item() == pytest.approx(-2.25)
    assert generator_adversarial_loss("hinge", fake).item() == pytest.approx(1.0)
    assert generator_adversarial_loss("wgan-gp", fake).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="wgan-gp"):
        critic_adversarial_loss("lsgan", real, fake)


def test_attention_magnitude_and_total_variation_hand_values():
    attention = torch.tensor([[[[1.0, 0.5], [0.0, 1.0]]]])
    assert attention_magnitude_loss(attention).item() == pytest.approx(0.375)  # (0 + .5 + 1 + 0) / 4
    # vertical diffs (0-1, 1-.5) -> mean sq (1 + .25)/2; horizontal (.5-1, 1-0) -> (.25 + 1)/2
    assert total_variation_loss(attention).item() == pytest.approx(1.25)
    assert total_variation_loss(torch.full((2, 1, 5, 5), 0.3)).item() == 0.0


def _three_pixels():
    # target 0 everywhere; per-pixel CE = log(1 + exp(l1 - l0)): easy ~0, unsure ln 2, wrong ~20
    logits = torch.tensor([[10.0, 0.0, -10.0], [-10.0, 0.0, 10.0]]).view(1, 2, 1, 3)
    return logits, torch.zeros(1, 1, 3, dtype=torch.long)


def test_ohem_keeps_only_hard_pixels():
    logits, target = _three_pixels()
    easy, unsure, wrong = math.log1p(math.exp(-20)), math.log(2), math.log1p(math.exp(20))
    assert segmentation_loss(logits, target).item() == pytest.approx((easy + unsure + wrong) / 3, rel=1e-5)
    assert segmentation_loss(logits, target, ohem_threshold=0.5).item() == pytest.approx((unsure + wrong) / 2)
    assert segmentation_loss(logits, target, ohem_threshold=1.0).item() == pytest.approx(wrong)
    # fewer than ohem_min_kept pixels above the threshold -> the hardest ohem_min_kept are kept
    assert segmentation_loss(logits, target, ohem_threshold=1.0, ohem_min_kept=2).item() == pytest.approx(
        (unsure + wrong) / 2
    )


def test_segmentation_loss_ignores_ignore_index_and_checks_shapes():
    logits, target = _three_pixels()
    target[0, 0, 2] = 255
    expected = (math.log1p(math.exp(-20)) + math.log(2)) / 2
    assert segmentation_loss(logits, target).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="matching size"):
        segmentation_loss(logits, torch.zeros(1, 2, 2, dtype=torch.long))


def test_parser_loss_adds_weighted_aux_heads():
    logits, target = _three_pixels()
    main = segmentation_loss(logits, target)
    total = parser_loss(logits, (logits, logits), target, aux_weight=0.5)
    assert total.item() == pytest.approx(2 * main.item())


@pytest.mark.parametrize("scale", [0.0, 0.1, 1.0])
def test_scale_gradient_keeps_values_and_scales_only_the_gradient(scale):
    x = torch.tensor([0.5, -2.0, 3.0], requires_grad=True)
    y = scale_gradient(x, scale)
    assert torch.equal(y, x)
    (y**2).sum().backward()
    torch.testing.assert_close(x.grad, scale * 2 * x.detach())


def test_multiscale_loss_adds_the_distance_of_each_pooled_level():
    constant = torch.full((1, 3, 8, 8), 0.5)
    assert multiscale_reconstruction_loss(constant, -constant, scales=3).item() == pytest.approx(3 * 1.0)
    # a checkerboard and its negative differ by 2 everywhere, but their 2x2 averages are equal
    checker = (torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2 * 2.0 - 1.0
    checker = checker.expand(1, 3, 8, 8)
    assert multiscale_reconstruction_loss(checker, -checker, scales=1).item() == pytest.approx(2.0)
    assert multiscale_reconstruction_loss(checker, -checker, scales=3).item() == pytest.approx(2.0)
    # a shifted edge: the pooled levels keep seeing it, so the loss grows with the number of scales
    edge = torch.zeros(1, 1, 8, 8)
    edge[..., 3:] = 1.0
    moved = torch.zeros(1, 1, 8, 8)
    moved[..., 5:] = 1.0
    assert (
        multiscale_reconstruction_loss(edge, moved, 3)
        > multiscale_reconstruction_loss(edge, moved, 2)
        > multiscale_reconstruction_loss(edge, moved, 1)
    )
    with pytest.raises(ValueError, match="`scales` must be at least 1 and leave at least one pixel"):
        multiscale_reconstruction_loss(constant, constant, scales=5)
    with pytest.raises(ValueError, match="same shape"):
        multiscale_reconstruction_loss(constant, constant[..., :4], scales=1)
    # squared: the constant differs by 1 (1 per level), the checkerboard by 2 (4, then 0 once pooled)
    assert multiscale_reconstruction_loss(constant, -constant, 3, "l2").item() == pytest.approx(3 * 1.0)
    assert multiscale_reconstruction_loss(checker, -checker, 3, "l2").item() == pytest.approx(4.0)
    with pytest.raises(ValueError, match=r"Unknown distance 'l3'; expected one of \('l1', 'l2'\)"):
        multiscale_reconstruction_loss(constant, constant, distance="l3")


@pytest.mark.parametrize(("distance", "ratio"), [("l1", 1.0), ("l2", 50.0)])
def test_squared_distance_weights_pixels_by_their_error(distance, ratio):
    """One edge pixel off by 0.5 among pixels off by 0.01: L1 pushes them all equally, L2 50 times harder on it."""
    target = torch.zeros(1, 1, 4, 4)
    prediction = torch.full((1, 1, 4, 4), 0.01, requires_grad=True)
    with torch.no_grad():
        prediction[0, 0, 0, 0] = 0.5
    multiscale_reconstruction_loss(prediction, target, 1, distance).backward()
    grad = prediction.grad[0, 0]
    assert (grad[0, 0] / grad[1, 1]).item() == pytest.approx(ratio)
