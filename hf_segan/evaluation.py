"""Paper-style evaluation of SeganPipelines: parsing, edit fidelity, restraint, judged accuracy; table and figure.

Every score is streamed over the dataset (confusion matrices and running sums; no predictions are stored):

* parsing (when the data has ``mask``): mean F1 over face classes, mIoU, pixel accuracy;
* edits toward each row's ``target_expression`` (a random other expression when the data has none), at
  ``target_intensity`` when given:
  - with ground truth (SynthFaces ``target_image``): PSNR and SSIM to the true target;
  - ``edit/unwanted_change``: mean absolute change outside the true expression regions (brows, eyes, nose,
    mouth of the source and the target face, dilated by a few pixels), i.e. what the edit should have left alone;
  - ``edit/judge_accuracy``: how often an independent expression classifier (``train_classifier.py``; never
    the GAN's own critic) recognises the target expression in the edit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import datasets
import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from .constants import DEFAULT_REGION_GROUPS, EXPRESSIONS, FACE_PARSING_CLASSES, class_indices
from .expressions import expression_condition
from .image_utils import pil_to_tensor, tensor_to_uint8
from .metrics import ConfusionMatrix, expression_accuracy, psnr, ssim, unwanted_change
from .models.regions import dilate
from .pipeline import SeganPipeline

EXPRESSION_CLASS_INDICES = class_indices([c for group in DEFAULT_REGION_GROUPS.values() for c in group])


def _tensor(image: Image.Image, size: int) -> torch.Tensor:
    return pil_to_tensor(image.convert("RGB").resize((size, size), Image.BILINEAR))


def _labels(mask: Image.Image, size: int) -> torch.Tensor:
    return torch.from_numpy(np.asarray(mask.resize((size, size), Image.NEAREST)).astype(np.int64))


def _expression_regions(masks: torch.Tensor, dilation: int = 2) -> torch.Tensor:
    """(B, 1, H, W) 0/1 union of the expression classes in label maps ``masks`` (B, H, W), grown by ``dilation``."""
    region = torch.isin(masks, torch.tensor(EXPRESSION_CLASS_INDICES)).float()[:, None]
    return dilate(region, dilation)


@torch.inference_mode()
def evaluate_pipeline(
    pipe: SeganPipeline,
    dataset: datasets.Dataset,
    classifier: torch.nn.Module | None = None,
    batch_size: int = 16,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, float]:
    """Scores of ``pipe`` on ``dataset`` (columns ``image`` plus any of ``mask``, ``expression``,
    ``target_expression``, ``target_intensity``, ``target_image``, ``target_mask``)."""
    if "image" not in dataset.column_names:
        raise ValueError(f"The dataset needs an `image` column; it has {dataset.column_names}.")
    size = pipe.config.resolution
    generator = torch.Generator().manual_seed(seed)
    confusion = ConfusionMatrix(len(FACE_PARSING_CLASSES)) if "mask" in dataset.column_names else None
    sums: dict[str, float] = {}
    count = 0
    device = pipe.editor.device
    for start in tqdm(range(0, len(dataset), batch_size), desc="evaluating", disable=not progress):
        rows = dataset[start : start + batch_size]
        images = torch.stack([_tensor(image, size) for image in rows["image"]])
        n = len(images)
        probs = pipe.parsing_probs(images.to(device))
        if confusion is not None:
            confusion.update(probs.argmax(1).cpu(), torch.stack([_labels(m, size) for m in rows["mask"]]))
        if "target_expression" in rows:
            targets = torch.tensor(rows["target_expression"])
        elif "expression" in rows:
            offset = torch.randint(1, len(EXPRESSIONS), (n,), generator=generator)
            targets = (torch.tensor(rows["expression"]) + offset) % len(EXPRESSIONS)
        else:
            targets = torch.randint(1, len(EXPRESSIONS), (n,), generator=generator)
        intensities = rows.get("target_intensity") or [1.0] * n
        conditions = torch.stack(
            [expression_condition(int(t), float(i)) for t, i in zip(targets, intensities, strict=True)]
        )
        edits = pipe.editor(images.to(device), probs, conditions.to(device)).images.float().cpu()
        scores: dict[str, torch.Tensor] = {}
        if "target_image" in rows:
            truth = torch.stack([_tensor(image, size) for image in rows["target_image"]])
            scores["edit/psnr"] = psnr(edits, truth).clamp(max=100.0)  # identical images: capped, not infinite
            scores["edit/ssim"] = ssim(edits, truth)
        if "mask" in rows:
            regions = _expression_regions(torch.stack([_labels(m, size) for m in rows["mask"]]))
            if "target_mask" in rows:
                target_regions = _expression_regions(torch.stack([_labels(m, size) for m in rows["target_mask"]]))
                regions = torch.maximum(regions, target_regions)
            scores["edit/unwanted_change"] = unwanted_change(images, edits, regions)
        if classifier is not None:
            logits = classifier(edits.to(classifier.device)).logits.cpu()
            scores["edit/judge_accuracy"] = expression_accuracy(logits, targets)
        for name, values in scores.items():
            sums[name] = sums.get(name, 0.0) + float(values.sum())
        count += n
    metrics = {name: total / count for name, total in sums.items()}
    if confusion is not None:
        metrics["parsing/mean_f1"] = confusion.mean_f1()
        metrics["parsing/miou"] = confusion.mean_iou()
        metrics["parsing/pixel_accuracy"] = confusion.pixel_accuracy()
    return metrics


def results_table(rows: Sequence[dict[str, Any]]) -> str:
    """A markdown table shaped like the paper's: one row per model, one column per metric."""
    metrics = sorted({name for row in rows for name in row["metrics"]})
    lines = ["| model | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for row in rows:
        values = [row["metrics"].get(name) for name in metrics]
        lines.append(f"| {row['model']} | " + " | ".join("" if v is None else f"{v:.4f}" for v in values) + " |")
    return "\n".join(lines)


@torch.inference_mode()
def figure_grid(
    pipe: SeganPipeline, images: Sequence[Image.Image], expressions: Sequence[str] = EXPRESSIONS
) -> Image.Image:
    """For each input: a row of [input, edit per expression] and a row of [input, attention per expression]
    (white = kept, dark = changed)."""
    size = pipe.config.resolution
    batch = torch.stack([_tensor(image, size) for image in images])
    rows = []
    edits = [pipe(batch, name, output_type="np") for name in expressions]
    for index in range(len(images)):
        source = tensor_to_uint8(batch[index])
        rows.append(np.concatenate([source] + [out.images[index] for out in edits], axis=1))
        attention = [np.repeat((out.attention[index][..., None] * 255).round().astype(np.uint8), 3, 2) for out in edits]
        rows.append(np.concatenate([source, *attention], axis=1))
    return Image.fromarray(np.concatenate(rows, axis=0))
