"""The end-to-end claim: GAN losses on the edit reach the face parser's weights only through soft semantic masks."""

import pytest
import torch
import torch.nn.functional as F

from hf_segan.losses import generator_adversarial_loss
from hf_segan.models.bisenet import BiSeNetFaceParser
from hf_segan.models.discriminator import ExpressionDiscriminator
from hf_segan.models.editor import HierarchicalExpressionGenerator


def _parser_gradient(region_source):
    torch.manual_seed(0)
    parser = BiSeNetFaceParser(backbone_widths=[8, 8, 16, 16], context_channels=8, fusion_channels=16, head_channels=8)
    editor = HierarchicalExpressionGenerator(
        region_source=region_source, base_channels=4, num_residual_blocks=1, local_channels=8
    )
    critic = ExpressionDiscriminator(base_channels=8, num_layers=3, local_base_channels=4, local_num_layers=2)
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    target = torch.tensor([1, 3])
    probs = parser(images, return_aux=False).logits.softmax(1)
    edit = editor(images, probs, F.one_hot(target, 8).float())
    scores = critic(edit.images, edit.region_masks if edit.region_masks.shape[1] else None)
    loss = generator_adversarial_loss("wgan-gp", scores.adversarial) + F.cross_entropy(scores.expression_logits, target)
    loss = loss + sum(generator_adversarial_loss("wgan-gp", s) for s in scores.local_adversarial)
    loss.backward()
    grads = [p.grad for p in parser.parameters()]
    return sum(0.0 if g is None else g.abs().sum().item() for g in grads)


def test_semantic_masks_carry_gan_gradients_into_the_parser():
    assert _parser_gradient("semantic") > 0.0


@pytest.mark.parametrize("region_source", ["box", "none"])
def test_box_and_global_baselines_do_not_train_the_parser_through_the_gan(region_source):
    assert _parser_gradient(region_source) == 0.0
