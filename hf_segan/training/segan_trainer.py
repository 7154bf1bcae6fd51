"""The GAN's update rules: one critic update, one editor (and parser) update, the EMA editor, samples, evaluation.

:class:`SeganTrainer` holds the models and optimizers, prepared by an Accelerator, and is driven step by step by
``training/train_segan.py``'s loop. Each step is one critic update (adversarial + expression classification of
real images, WGAN-GP or hinge); every ``loss.n_critic``-th step first updates the editor (adversarial,
classification of the edit as the target, cycle reconstruction, attention magnitude and smoothness, local critics
per region, optional paired loss to the true target; with ``loss.lambda_cycle`` 0 the edit back, a second editor
pass, is skipped) and the parser (supervised parsing loss, plus the editor's losses through its softmax
probabilities when ``train_parser_jointly`` and ``region_source: semantic``) in
:meth:`SeganTrainer.generator_step`, and that step's critic update then scores the edits the editor has just made
(CycleGAN's order) instead of parsing and editing the batch a second time.

The EMA is hand-written rather than diffusers' ``EMAModel``: ``EMAModel`` ramps its decay up from 0 over the first
steps, ignores buffers (the editor's normalisation statistics) and keeps non-tensor state, so it would change the
saved editor and its checkpoint format; this one is a plain ``lerp`` toward the trained weights at a fixed decay.
"""

from __future__ import annotations

import copy
import dataclasses

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.utils import set_seed

from ..constants import EXPRESSIONS
from ..expressions import label_conditions
from ..losses import (
    attention_magnitude_loss,
    critic_adversarial_loss,
    generator_adversarial_loss,
    gradient_penalty,
    interpolate,
    multiscale_reconstruction_loss,
    parser_loss,
    scale_gradient,
    total_variation_loss,
)
from ..models.discriminator import ExpressionDiscriminator
from ..models.editor import HierarchicalExpressionGenerator
from .data import check_kwargs
from .logging import attention_as_image
from .runtime import learning_rate, make_optimizer, set_learning_rate, sync_context
from .segan_config import PARSERS, SeganTrainingConfig


def pick_targets(batch: dict) -> torch.Tensor:
    """The dataset's paired target expression when it has one (SynthFaces), else a random other expression."""
    if "target_expression" in batch:
        return batch["target_expression"]
    source = batch["expression"]
    offset = torch.randint(1, len(EXPRESSIONS), source.shape).to(source.device)
    return (source + offset) % len(EXPRESSIONS)


def add_conditions(batch: dict) -> None:
    """Pick the batch's targets and the editor's condition vectors toward them and back to the source, at the
    intensities the data records (``target_intensity``, ``intensity``; full intensity where it records none)."""
    batch["target"] = pick_targets(batch)
    paired = "target_expression" in batch
    batch["target_condition"] = label_conditions(batch["target"], batch.get("target_intensity") if paired else None)
    batch["source_condition"] = label_conditions(batch["expression"], batch.get("intensity"))


def region_masks_or_none(masks: torch.Tensor) -> torch.Tensor | None:
    """The critics take no masks when the editor has no regions (``region_source: none``)."""
    return masks if masks.shape[1] > 0 else None


@dataclasses.dataclass
class Fake:
    """Edits for the critic to score, with the region masks its local critics read (``None`` without regions)."""

    images: torch.Tensor
    region_masks: torch.Tensor | None

    @classmethod
    def from_edit(cls, edit) -> Fake:
        """An editor output, detached: the critic's update must not reach the editor or the parser."""
        masks = region_masks_or_none(edit.region_masks)
        return cls(edit.images.detach(), None if masks is None else masks.detach())


def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for ema_param, param in zip(ema.parameters(), model.parameters(), strict=True):
            ema_param.lerp_(param.detach().to(ema_param.dtype), 1.0 - decay)
        for ema_buffer, buffer in zip(ema.buffers(), model.buffers(), strict=True):
            ema_buffer.copy_(buffer)


class SeganTrainer:
    """The models, optimizers and the two update rules; the training loop lives in :func:`main`."""

    def __init__(self, config: SeganTrainingConfig, accelerator: Accelerator) -> None:
        self.config = config
        self.accelerator = accelerator
        model_config = config.model
        parser_class = PARSERS[model_config.parser_type]
        check_kwargs(parser_class.__init__, model_config.parser, "model.parser")
        check_kwargs(HierarchicalExpressionGenerator.__init__, model_config.editor, "model.editor")
        check_kwargs(ExpressionDiscriminator.__init__, model_config.discriminator, "model.discriminator")

        set_seed(config.seed)
        if model_config.pretrained_parser:
            try:
                parser = parser_class.from_pretrained(model_config.pretrained_parser)
            except OSError as error:
                raise ValueError(
                    f"`model.pretrained_parser` {model_config.pretrained_parser!r} is not a {parser_class.__name__} "
                    "folder or hub id that can be loaded; train the parser first (training/train_parser.py writes "
                    f"OUTPUT_DIR/best) or point the key at one. ({str(error).splitlines()[0]})"
                ) from error
        else:
            parser = parser_class(**model_config.parser)
        real_photos = {"trained_on_real_photos": config.data.dataset != "synthfaces"}
        editor = HierarchicalExpressionGenerator(
            region_source=config.region_source, **{**model_config.editor, **real_photos}
        )
        critic = ExpressionDiscriminator(**model_config.discriminator)
        editor_opt = make_optimizer(editor.parameters(), config.optim_editor)
        critic_opt = make_optimizer(critic.parameters(), config.optim_critic)
        self.editor, self.critic, self.editor_opt, self.critic_opt = accelerator.prepare(
            editor, critic, editor_opt, critic_opt
        )
        if config.parser_trainable:
            parser_opt = make_optimizer(parser.parameters(), config.optim_parser)
            self.parser, self.parser_opt = accelerator.prepare(parser, parser_opt)
        else:
            # A frozen parser is not wrapped for DDP (nothing to synchronise) but is still checkpointed.
            self.parser, self.parser_opt = parser.to(accelerator.device).eval().requires_grad_(False), None
            accelerator.register_for_checkpointing(self.parser)
        self.ema_editor = copy.deepcopy(accelerator.unwrap_model(self.editor)).eval().requires_grad_(False)
        accelerator.register_for_checkpointing(self.ema_editor)

    def unwrap(self, model: torch.nn.Module) -> torch.nn.Module:
        return self.accelerator.unwrap_model(model)

    def set_learning_rates(self, step: int) -> dict[str, float]:
        rates = {}
        pairs = [("editor", self.editor_opt, self.config.optim_editor)]
        pairs.append(("critic", self.critic_opt, self.config.optim_critic))
        if self.parser_opt is not None:
            pairs.append(("parser", self.parser_opt, self.config.optim_parser))
        for name, optimizer, optim in pairs:
            rates[f"lr/{name}"] = learning_rate(optim, step, self.config.max_steps)
            set_learning_rate(optimizer, rates[f"lr/{name}"])
        return rates

    def parsing_probs(self, images: torch.Tensor) -> torch.Tensor:
        return self.unwrap(self.parser)(images, return_aux=False).logits.float().softmax(1)

    def critic_step(self, micro_batches: list[dict], fakes: list[Fake] | None = None) -> dict[str, torch.Tensor]:
        """One critic update over the accumulated micro-batches, on ``fakes`` (one per micro-batch, from
        :meth:`generator_step`) or, without them, on edits made now."""
        loss_config, accelerator = self.config.loss, self.accelerator
        totals: dict[str, torch.Tensor] = {}
        for index, batch in enumerate(micro_batches):
            images, source = batch["image"], batch["expression"]
            if fakes is None:
                with torch.no_grad():
                    edit = self.unwrap(self.editor)(images, self.parsing_probs(images), batch["target_condition"])
                fake = Fake.from_edit(edit)
            else:
                fake = fakes[index]
            masks = fake.region_masks
            with sync_context(accelerator, [self.critic], index == len(micro_batches) - 1):
                # Real and fake go through the critic as one batch: DDP allows one wrapped forward per backward.
                both_masks = None if masks is None else masks.repeat(2, 1, 1, 1)
                both = self.critic(torch.cat([images, fake.images]), both_masks)
                real_scores, fake_scores = both.adversarial.chunk(2)
                adversarial = critic_adversarial_loss(loss_config.adversarial, real_scores, fake_scores)
                local = sum(
                    (
                        critic_adversarial_loss(loss_config.adversarial, *scores.chunk(2))
                        for scores in both.local_adversarial
                    ),
                    images.new_zeros(()),
                )
                classification = F.cross_entropy(both.expression_logits.chunk(2)[0].float(), source)
                loss = adversarial + loss_config.lambda_local * local + loss_config.lambda_cls * classification
                terms = {"critic/adversarial": adversarial, "critic/local": local, "critic/cls": classification}
                if loss_config.adversarial == "wgan-gp" and loss_config.lambda_gp > 0:
                    points = interpolate(images, fake.images)
                    scores = self.unwrap(self.critic)(points, masks)
                    penalty = gradient_penalty([scores.adversarial, *scores.local_adversarial], points)
                    loss = loss + loss_config.lambda_gp * penalty
                    terms["critic/gp"] = penalty
                accelerator.backward(loss / len(micro_batches))
            for key, value in terms.items():
                totals[key] = totals.get(key, 0.0) + value.detach().float() / len(micro_batches)
        self.critic_opt.step()
        self.critic_opt.zero_grad(set_to_none=True)
        return totals

    def generator_step(
        self, micro_batches: list[dict], parsing_batches: list[dict]
    ) -> tuple[dict[str, torch.Tensor], list[Fake]]:
        """One editor (and parser) update over the accumulated micro-batches; the critic is not updated.

        Returns the loss terms and, per micro-batch, the edits it made (detached), for the critic to score next.
        """
        config, loss_config, accelerator = self.config, self.config.loss, self.accelerator
        critic = self.unwrap(self.critic)
        critic.requires_grad_(False)
        synced = [self.editor] + ([self.parser] if config.parser_trainable else [])
        totals: dict[str, torch.Tensor] = {}
        fakes: list[Fake] = []
        for index, (batch, parsing_batch) in enumerate(zip(micro_batches, parsing_batches, strict=True)):
            images, target = batch["image"], batch["target"]
            same_data = parsing_batch is batch
            with sync_context(accelerator, synced, index == len(micro_batches) - 1):
                # DDP allows one wrapped forward per backward: the wrapped parser runs on the supervised batch.
                parser = self.parser if same_data else self.unwrap(self.parser)
                parsing = parser(images, return_aux=config.parser_trainable and same_data)
                probs = parsing.logits.float().softmax(1)
                probs = scale_gradient(probs, loss_config.joint_gradient_scale) if config.joint else probs.detach()
                edit = self.editor(images, probs, batch["target_condition"])
                fakes.append(Fake.from_edit(edit))
                fake = critic(edit.images, region_masks_or_none(edit.region_masks))
                adversarial = generator_adversarial_loss(loss_config.adversarial, fake.adversarial)
                local = sum(
                    (generator_adversarial_loss(loss_config.adversarial, f) for f in fake.local_adversarial),
                    images.new_zeros(()),
                )
                classification = F.cross_entropy(fake.expression_logits.float(), target)
                attentions = [edit.attention]
                terms = {"editor/adversarial": adversarial, "editor/local": local, "editor/cls": classification}
                loss = adversarial + loss_config.lambda_local * local + loss_config.lambda_cls * classification
                if loss_config.lambda_cycle > 0:
                    # Editing back costs a second editor forward and backward: skipped when the loss has no weight.
                    back = self.unwrap(self.editor)(edit.images, probs, batch["source_condition"])
                    terms["editor/cycle"] = F.l1_loss(back.images.float(), images.float())
                    loss = loss + loss_config.lambda_cycle * terms["editor/cycle"]
                    attentions.append(back.attention)
                terms["editor/attention"] = sum(attention_magnitude_loss(a) for a in attentions)
                terms["editor/tv"] = sum(total_variation_loss(a) for a in attentions)
                loss = loss + loss_config.lambda_attention * terms["editor/attention"]
                loss = loss + loss_config.lambda_tv * terms["editor/tv"]
                if loss_config.lambda_paired > 0:
                    paired = multiscale_reconstruction_loss(
                        edit.images.float(),
                        batch["target_image"].float(),
                        loss_config.paired_scales,
                        loss_config.paired_distance,
                    )
                    loss = loss + loss_config.lambda_paired * paired
                    terms["editor/paired"] = paired
                if config.parser_trainable:
                    if not same_data:
                        parsing = self.parser(parsing_batch["image"], return_aux=True)
                    supervised = parser_loss(
                        parsing.logits, parsing.aux_logits, parsing_batch["mask"], loss_config.parser_aux_weight
                    )
                    loss = loss + loss_config.lambda_parsing * supervised
                    terms["parser/loss"] = supervised
                accelerator.backward(loss / len(micro_batches))
            for key, value in terms.items():
                totals[key] = totals.get(key, 0.0) + value.detach().float() / len(micro_batches)
        critic.requires_grad_(True)
        for optimizer in (self.editor_opt, self.parser_opt):
            if optimizer is not None:
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
        update_ema(self.ema_editor, self.unwrap(self.editor), config.ema_decay)
        return totals, fakes

    @torch.no_grad()
    def sample_grid(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Input, then attention and EMA edit for every target expression, as image columns."""
        parser = self.unwrap(self.parser)
        was_training = parser.training
        parser.eval()
        probs = parser(images).logits.float().softmax(1)
        parser.train(was_training)
        columns = [images]
        for label in range(len(EXPRESSIONS)):
            targets = torch.full((images.shape[0],), label, device=images.device)
            edit = self.ema_editor(images, probs, label_conditions(targets))
            columns.extend([attention_as_image(edit.attention), edit.images])
        return columns

    @torch.no_grad()
    def evaluate(self, loader) -> dict[str, float]:
        """EMA edits toward each sample's target: critic-judged target accuracy, changed area, paired L1."""
        critic = self.unwrap(self.critic)
        names = ["eval/target_accuracy", "eval/changed_area"]
        has_pairs = "target_image" in loader.dataset.columns
        if has_pairs:
            names.append("eval/paired_l1")
        sums, count = torch.zeros(len(names), dtype=torch.float64), 0
        for batch in loader:
            images = batch["image"]
            add_conditions(batch)
            targets = batch["target"]
            edit = self.ema_editor(images, self.parsing_probs(images), batch["target_condition"])
            values = [
                (critic(edit.images).expression_logits.argmax(1) == targets).float(),
                (1 - edit.attention.float()).flatten(1).mean(1),
            ]
            if has_pairs:
                values.append((edit.images.float() - batch["target_image"]).abs().flatten(1).mean(1))
            values = self.accelerator.gather_for_metrics(values)
            sums += torch.stack([v.sum().double().cpu() for v in values])
            count += len(values[0])
        return {name: float(total) / max(count, 1) for name, total in zip(names, sums, strict=True)}
