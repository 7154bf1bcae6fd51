"""Training objectives of the parser, the editor and the critics.

Each loss is a plain function of tensors so that the training scripts stay readable and every term can be checked
by hand in the tests. Adversarial losses take critic *scores* (any shape, e.g. PatchGAN maps) and reduce them to
a scalar; the critic itself never appears here except through :func:`gradient_penalty`'s inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

#: Adversarial objectives accepted by :func:`critic_adversarial_loss` / :func:`generator_adversarial_loss`.
ADVERSARIAL_LOSSES = ("wgan-gp", "hinge")


def _check_adversarial(kind: str) -> None:
    if kind not in ADVERSARIAL_LOSSES:
        raise ValueError(f"Unknown adversarial loss {kind!r}; expected one of {ADVERSARIAL_LOSSES}.")


def critic_adversarial_loss(kind: str, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """The critic's adversarial loss on real and fake scores (lower is better for the critic).

    ``wgan-gp``: ``E[D(fake)] - E[D(real)]`` (the gradient penalty is added separately, it needs the inputs).
    ``hinge``: ``E[relu(1 - D(real))] + E[relu(1 + D(fake))]``.
    """
    _check_adversarial(kind)
    if kind == "hinge":
        return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()
    return fake_scores.mean() - real_scores.mean()


def generator_adversarial_loss(kind: str, fake_scores: torch.Tensor) -> torch.Tensor:
    """The generator's adversarial loss: ``-E[D(fake)]`` for both WGAN and hinge GANs."""
    _check_adversarial(kind)
    return -fake_scores.mean()


def gradient_penalty(scores: torch.Tensor | Sequence[torch.Tensor], inputs: torch.Tensor) -> torch.Tensor:
    """WGAN-GP penalty ``E[(||grad_x D(x)||_2 - 1)^2]`` at the points ``inputs`` (Gulrajani et al., 2017).

    ``scores`` are critic outputs computed from ``inputs`` (which must require grad), one tensor or several (the
    global and local critics each get their own penalty, summed). A PatchGAN map is summed per sample before
    differentiating, so a sample's gradient is that of its whole score map. The graph is kept so that the
    penalty itself can be back-propagated into the critic.
    """
    if not inputs.requires_grad:
        raise ValueError("`inputs` must require grad: the penalty differentiates the critic with respect to them.")
    score_list = [scores] if isinstance(scores, torch.Tensor) else list(scores)
    penalty = inputs.new_zeros(())
    for score in score_list:
        (grad,) = torch.autograd.grad(score.sum(), inputs, create_graph=True)
        norms = grad.flatten(1).float().norm(2, dim=1)
        penalty = penalty + ((norms - 1.0) ** 2).mean()
    return penalty


def interpolate(real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random points on the segments between real and fake samples, where WGAN-GP evaluates its penalty."""
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}.")
    alpha = torch.rand((real.shape[0],) + (1,) * (real.ndim - 1), device=real.device, generator=generator)
    return (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)


def scale_gradient(tensor: torch.Tensor, scale: float) -> torch.Tensor:
    """``tensor`` unchanged in the forward pass; its gradient multiplied by ``scale`` in the backward pass.

    Joint training sends the editor's losses into the parser through its soft masks. Those gradients are large
    next to the parser's own supervised loss, and at full strength they drag a pre-trained parser away from
    good segmentations; scaling them keeps the end-to-end signal while supervision stays in charge.
    """
    if scale == 1.0:
        return tensor
    detached = tensor.detach()
    return detached + scale * (tensor - detached)


def attention_magnitude_loss(attention: torch.Tensor) -> torch.Tensor:
    """Mean of ``1 - A``: how much of the image the editor changes (``A = 1`` keeps the input pixel).

    Without it the editor can repaint the whole face from its colour branch; with it, changes must pay their way
    through the adversarial and classification terms, which keeps edits local (GANimation's attention loss).
    """
    return (1.0 - attention).mean()


def total_variation_loss(maps: torch.Tensor) -> torch.Tensor:
    """Smoothness of (B, C, H, W) maps: mean squared difference between vertical plus horizontal neighbours.

    Applied to attention masks it removes the salt-and-pepper masks a GAN otherwise likes to produce.
    """
    if maps.ndim != 4:
        raise ValueError(f"`maps` must have shape (B, C, H, W), got shape {tuple(maps.shape)}.")
    vertical = (maps[:, :, 1:, :] - maps[:, :, :-1, :]).pow(2).mean()
    horizontal = (maps[:, :, :, 1:] - maps[:, :, :, :-1]).pow(2).mean()
    return vertical + horizontal


RECONSTRUCTION_DISTANCES = ("l1", "l2")


def multiscale_reconstruction_loss(
    prediction: torch.Tensor, target: torch.Tensor, scales: int = 1, distance: str = "l1"
) -> torch.Tensor:
    """Sum of the mean L1 (or squared, ``distance="l2"``) distances at full resolution and at ``scales - 1``
    successive 2x average-poolings.

    A warp's gradient at full resolution only says which way to move a pixel when it is within a pixel of the right
    edge; on the pooled images an edge is wider, so a displacement several pixels off still sees the slope.
    ``scales=1`` is the plain distance.

    Which distance: L1's gradient has the same size at every pixel, so on a face where a few percent of the pixels
    must change, the many small residuals elsewhere (texture, sub-pixel misfit) outvote the few moved edges. The
    squared distance weights each pixel by its error, so the edges that are still wrong dominate.
    """
    if distance not in RECONSTRUCTION_DISTANCES:
        raise ValueError(f"Unknown distance {distance!r}; expected one of {RECONSTRUCTION_DISTANCES}.")
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction and target must have the same shape, got {tuple(prediction.shape)} and {tuple(target.shape)}."
        )
    if scales < 1 or min(prediction.shape[-2:]) < 2 ** (scales - 1):
        raise ValueError(
            f"`scales` must be at least 1 and leave at least one pixel; got {scales} for images of "
            f"{tuple(prediction.shape[-2:])}."
        )
    measure = F.l1_loss if distance == "l1" else F.mse_loss
    loss = measure(prediction, target)
    for _ in range(scales - 1):
        prediction, target = F.avg_pool2d(prediction, 2), F.avg_pool2d(target, 2)
        loss = loss + measure(prediction, target)
    return loss


def segmentation_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    ohem_threshold: float | None = None,
    ohem_min_kept: int = 0,
    ignore_index: int = 255,
) -> torch.Tensor:
    """Per-pixel cross-entropy, optionally with online hard example mining (OHEM, as in BiSeNet training).

    With ``ohem_threshold`` set, only pixels whose loss exceeds it are averaged, but never fewer than the
    ``ohem_min_kept`` hardest pixels: easy background pixels then stop dominating the gradient of small parts
    such as eyes. ``ignore_index`` pixels never count.
    """
    if (
        logits.ndim != 4
        or target.ndim != 3
        or logits.shape[0] != target.shape[0]
        or logits.shape[2:] != target.shape[1:]
    ):
        raise ValueError(
            f"Expected logits (B, C, H, W) and target (B, H, W) of matching size, got {tuple(logits.shape)} "
            f"and {tuple(target.shape)}."
        )
    losses = F.cross_entropy(logits.float(), target.long(), ignore_index=ignore_index, reduction="none").flatten()
    losses = losses[target.flatten() != ignore_index]
    if losses.numel() == 0:
        return logits.sum() * 0.0
    if ohem_threshold is None:
        return losses.mean()
    hard = losses[losses > ohem_threshold]
    if hard.numel() >= ohem_min_kept and hard.numel() > 0:
        return hard.mean()
    kept = max(1, min(ohem_min_kept, losses.numel()))
    return losses.topk(kept).values.mean()


def parser_loss(
    logits: torch.Tensor,
    aux_logits: Sequence[torch.Tensor],
    target: torch.Tensor,
    aux_weight: float = 1.0,
    ohem_threshold: float | None = None,
    ohem_min_kept: int = 0,
) -> torch.Tensor:
    """Segmentation loss of the main head plus ``aux_weight`` times each auxiliary head's (deep supervision)."""
    loss = segmentation_loss(logits, target, ohem_threshold, ohem_min_kept)
    for aux in aux_logits:
        loss = loss + aux_weight * segmentation_loss(aux, target, ohem_threshold, ohem_min_kept)
    return loss
