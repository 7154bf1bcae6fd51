"""The critics (global PatchGAN + expression head, local critics) and the independent expression classifier."""

import pytest
import torch

from hf_segan.constants import EXPRESSIONS
from hf_segan.models.classifier import ExpressionClassifier
from hf_segan.models.discriminator import ExpressionDiscriminator

TINY_CRITIC = {"base_channels": 4, "num_layers": 3, "local_base_channels": 4, "local_num_layers": 2}
TINY_CLASSIFIER = {"widths": [4, 8], "dropout": 0.1}


def _images(batch: int = 2, size: int = 32) -> torch.Tensor:
    return torch.rand(batch, 3, size, size) * 2 - 1


def _masks(batch: int = 2, regions: int = 3, size: int = 32) -> torch.Tensor:
    masks = torch.zeros(batch, regions, size, size)
    for r in range(regions):
        masks[:, r, 8 * r : 8 * r + 8, 4:20] = 1.0
    return masks


@pytest.mark.parametrize("size", [32, 48])
def test_critic_shapes_with_and_without_masks(size):
    critic = ExpressionDiscriminator(**TINY_CRITIC)
    plain = critic(_images(size=size))
    assert plain.adversarial.shape == (2, 1, size // 8, size // 8)
    assert plain.expression_logits.shape == (2, len(EXPRESSIONS))
    assert plain.local_adversarial == ()
    local = critic(_images(size=size), _masks(size=size)).local_adversarial
    assert len(local) == 3 and all(scores.shape == (2, 1, size // 4, size // 4) for scores in local)


def test_local_critics_only_see_their_region():
    critic = ExpressionDiscriminator(**TINY_CRITIC)
    images, masks = _images(), _masks(regions=3)
    changed = images.clone()
    changed[:, :, 28:, :] = -images[:, :, 28:, :]  # rows 28.. lie outside every region
    changed[:, :, 0:8, 4:20] = 0.5  # inside region 0 only
    before, after = critic(images, masks).local_adversarial, critic(changed, masks).local_adversarial
    assert not torch.equal(before[0], after[0])
    assert torch.equal(before[1], after[1]) and torch.equal(before[2], after[2])


def test_critic_rejects_bad_inputs():
    critic = ExpressionDiscriminator(**TINY_CRITIC)
    with pytest.raises(ValueError, match=r"`region_masks` must have 3 channels"):
        critic(_images(), _masks(regions=2))
    with pytest.raises(ValueError, match=r"`region_masks` must have shape \(2, 3, 32, 32\)"):
        critic(_images(), _masks(size=16))
    with pytest.raises(ValueError, match="too small for this critic: height and width must be >= 64"):
        ExpressionDiscriminator(num_layers=6)(_images(size=32))
    with pytest.raises(ValueError, match=r"`images` must have 3 channels"):
        critic(torch.zeros(2, 1, 32, 32))


def test_critic_has_no_normalisation_so_scores_are_per_sample():
    critic = ExpressionDiscriminator(**TINY_CRITIC)
    images, masks = _images(batch=3), _masks(batch=3)
    batch = critic(images, masks)
    single = critic(images[1:2], masks[1:2])
    torch.testing.assert_close(batch.adversarial[1:2], single.adversarial)
    torch.testing.assert_close(batch.local_adversarial[0][1:2], single.local_adversarial[0])


def test_classifier_shapes_and_errors():
    classifier = ExpressionClassifier(**TINY_CLASSIFIER).eval()
    assert classifier(_images()).logits.shape == (2, len(EXPRESSIONS))
    assert classifier(_images(size=40)).logits.shape == (2, len(EXPRESSIONS))
    with pytest.raises(ValueError, match=r"`images` values must lie in \[-1.0, 1.0\]"):
        classifier(_images() * 255)
    with pytest.raises(ValueError, match=r"`widths` must be a non-empty list"):
        ExpressionClassifier(widths=[])


def test_classifier_head_sees_where_features_are():
    """The same blob moved by a multiple of the total stride: global pooling cannot tell, the grid head can."""
    torch.manual_seed(0)
    images = torch.zeros(2, 3, 64, 64)
    images[0, :, 12:16, 12:16] = 1.0
    images[1, :, 44:48, 44:48] = 1.0
    global_pool = ExpressionClassifier(**TINY_CLASSIFIER, pool_grid=1).eval()
    logits = global_pool(images).logits
    torch.testing.assert_close(logits[0], logits[1])
    grid = ExpressionClassifier(**TINY_CLASSIFIER, pool_grid=4).eval()
    logits = grid(images).logits
    assert (logits[0] - logits[1]).abs().max() > 1e-3
    with pytest.raises(ValueError, match=r"`pool_grid` must be >= 1"):
        ExpressionClassifier(pool_grid=0)


def test_classifier_learns_to_separate_two_expressions():
    classifier = ExpressionClassifier(**TINY_CLASSIFIER)
    images = torch.cat([_images(4).clamp(-1, 0), _images(4).clamp(0, 1)])
    labels = torch.tensor([0] * 4 + [1] * 4)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=1e-2)
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(classifier(images).logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    classifier.eval()
    assert torch.equal(classifier(images).logits.argmax(1), labels)


@pytest.mark.parametrize(
    ("model_class", "kwargs", "call"),
    [
        (ExpressionDiscriminator, TINY_CRITIC, lambda model, x: model(x, _masks()).local_adversarial[1]),
        (ExpressionClassifier, TINY_CLASSIFIER, lambda model, x: model(x).logits),
    ],
)
def test_save_and_load_round_trip(tmp_path, model_class, kwargs, call):
    model = model_class(**kwargs).eval()
    model.save_pretrained(tmp_path)
    loaded = model_class.from_pretrained(tmp_path).eval()
    state, loaded_state = model.state_dict(), loaded.state_dict()
    assert state.keys() == loaded_state.keys()
    assert all(torch.equal(state[key], loaded_state[key]) for key in state)
    images = _images()
    with torch.no_grad():
        assert torch.equal(call(model, images), call(loaded, images))
