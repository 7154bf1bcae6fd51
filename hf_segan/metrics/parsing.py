"""Face-parsing scores from a streaming confusion matrix (no predictions are stored).

Conventions follow face-parsing papers on CelebAMask-HQ: per-class F1, mean F1 over the face classes with the
background excluded, mean IoU and pixel accuracy. A class absent from both prediction and ground truth has no
defined score (NaN) and is left out of the means rather than counted as perfect or as zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


class ConfusionMatrix:
    """``matrix[t, p]`` counts pixels of true class ``t`` predicted as ``p``."""

    def __init__(self, num_classes: int, ignore_index: int | None = None) -> None:
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}.")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, predictions: torch.Tensor, targets: torch.Tensor) -> ConfusionMatrix:
        """Add a batch of integer label maps (any matching shapes)."""
        predictions, targets = torch.as_tensor(predictions), torch.as_tensor(targets)
        for name, labels in (("predictions", predictions), ("targets", targets)):
            if labels.is_floating_point() or labels.is_complex():
                raise ValueError(
                    f"{name} must be integer label maps (e.g. logits.argmax(1)), got dtype {labels.dtype}."
                )
        if predictions.shape != targets.shape:
            raise ValueError(
                f"predictions and targets must have the same shape, got {tuple(predictions.shape)} and "
                f"{tuple(targets.shape)}."
            )
        predictions, targets = predictions.reshape(-1).long().cpu(), targets.reshape(-1).long().cpu()
        if self.ignore_index is not None:
            keep = targets != self.ignore_index
            predictions, targets = predictions[keep], targets[keep]
        for name, labels in (("predictions", predictions), ("targets", targets)):
            if labels.numel() and (labels.min() < 0 or labels.max() >= self.num_classes):
                raise ValueError(
                    f"{name} hold labels outside 0..{self.num_classes - 1} "
                    f"(min {int(labels.min())}, max {int(labels.max())})."
                )
        counts = torch.bincount(targets * self.num_classes + predictions, minlength=self.num_classes**2)
        self.matrix += counts.view(self.num_classes, self.num_classes)
        return self

    def merge(self, other: ConfusionMatrix) -> ConfusionMatrix:
        """Add another matrix (e.g. from another process or shard)."""
        if not isinstance(other, ConfusionMatrix):
            raise ValueError(f"Can only merge a ConfusionMatrix, got {type(other).__name__}.")
        if other.num_classes != self.num_classes:
            raise ValueError(f"Cannot merge a {other.num_classes}-class matrix into a {self.num_classes}-class one.")
        self.matrix += other.matrix
        return self

    def __add__(self, other: ConfusionMatrix) -> ConfusionMatrix:
        """A new matrix holding the counts of both; ``sum(matrices)`` works too (it starts from 0)."""
        total = ConfusionMatrix(self.num_classes, self.ignore_index).merge(self)
        return total if isinstance(other, int) and other == 0 else total.merge(other)

    __radd__ = __add__

    def _parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        matrix = self.matrix.double().numpy()
        true_positive = np.diag(matrix)
        return true_positive, matrix.sum(0) - true_positive, matrix.sum(1) - true_positive

    def iou(self) -> list[float]:
        """Per-class intersection over union; NaN for a class absent from prediction and truth."""
        tp, fp, fn = self._parts()
        with np.errstate(invalid="ignore", divide="ignore"):
            return (tp / (tp + fp + fn)).tolist()

    def f1(self) -> list[float]:
        """Per-class F1 (Dice); NaN for a class absent from prediction and truth."""
        tp, fp, fn = self._parts()
        with np.errstate(invalid="ignore", divide="ignore"):
            return (2 * tp / (2 * tp + fp + fn)).tolist()

    def mean_iou(self) -> float:
        return _nanmean(self.iou())

    def mean_f1(self, exclude: Sequence[int] = (0,)) -> float:
        """Mean F1 over the classes not in ``exclude`` (background, by the face-parsing convention)."""
        return _nanmean([value for index, value in enumerate(self.f1()) if index not in set(exclude)])

    def pixel_accuracy(self) -> float:
        total = int(self.matrix.sum())
        return float(torch.diag(self.matrix).sum()) / total if total else float("nan")

    def summary(self, class_names: Sequence[str]) -> dict[str, float]:
        """Flat scores for logs and JSON: means, pixel accuracy and per-class F1."""
        if len(class_names) != self.num_classes:
            raise ValueError(f"Got {len(class_names)} class names for {self.num_classes} classes.")
        scores = {"mean_f1": self.mean_f1(), "miou": self.mean_iou(), "pixel_accuracy": self.pixel_accuracy()}
        scores |= {f"f1/{name}": value for name, value in zip(class_names, self.f1(), strict=True)}
        return scores


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")
