"""Image quality of generated sets: FID and KID on features of a pluggable extractor.

The standard FID network (Inception-v3 with the 2015 TensorFlow weights) cannot be downloaded on every machine,
so the feature extractor is any callable ``(B, 3, H, W) in [-1, 1] -> (B, D)``; scores are only comparable
between runs that used the same extractor, which is why reports name it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
from scipy import linalg

FeatureExtractor = Callable[[torch.Tensor], torch.Tensor]


class FeatureStatistics:
    """Streaming mean and covariance of feature vectors (float64 running sums); keeps the features for KID
    only when ``keep_features`` is set."""

    def __init__(self, keep_features: bool = True) -> None:
        self.count = 0
        self._sum: np.ndarray | None = None
        self._outer: np.ndarray | None = None
        self._features: list[np.ndarray] | None = [] if keep_features else None

    def update(self, features: torch.Tensor | np.ndarray) -> FeatureStatistics:
        array = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor) else features, np.float64)
        if array.ndim != 2:
            raise ValueError(f"features must have shape (N, D), got {array.shape}.")
        if self._sum is None:
            self._sum, self._outer = np.zeros(array.shape[1]), np.zeros((array.shape[1],) * 2)
        elif array.shape[1] != self._sum.shape[0]:
            raise ValueError(f"feature width changed from {self._sum.shape[0]} to {array.shape[1]}.")
        self.count += array.shape[0]
        self._sum += array.sum(0)
        self._outer += array.T @ array
        if self._features is not None:
            self._features.append(array)
        return self

    @property
    def mean(self) -> np.ndarray:
        self._require(1)
        return self._sum / self.count

    @property
    def cov(self) -> np.ndarray:
        """Unbiased covariance (as ``np.cov``)."""
        self._require(2)
        mean = self.mean
        return (self._outer - self.count * np.outer(mean, mean)) / (self.count - 1)

    @property
    def features(self) -> np.ndarray:
        if self._features is None:
            raise ValueError("features were not kept (keep_features=False).")
        self._require(1)
        return np.concatenate(self._features)

    def _require(self, n: int) -> None:
        if self.count < n:
            raise ValueError(f"need at least {n} feature vectors, got {self.count}.")


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``, the Fréchet distance of two Gaussians.

    The matrix square root comes from ``scipy.linalg.sqrtm``; a tiny diagonal offset is added when the product is
    singular (few samples), and the negligible imaginary part that rounding produces is dropped.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError("The two Gaussians must have the same dimension.")
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean), 0.0))


def fid_from_features(real: np.ndarray | FeatureStatistics, fake: np.ndarray | FeatureStatistics) -> float:
    real, fake = _stats(real), _stats(fake)
    return frechet_distance(real.mean, real.cov, fake.mean, fake.cov)


def kid_from_features(
    real: np.ndarray | FeatureStatistics,
    fake: np.ndarray | FeatureStatistics,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased MMD^2 with ``k(x, y) = (x.y / d + 1)^3``, mean and std over subsets
    of ``min(subset_size, n_real, n_fake)`` samples."""
    x, y = _stats(real).features, _stats(fake).features
    size = min(subset_size, len(x), len(y))
    if size < 2:
        raise ValueError("KID needs at least 2 samples in each set.")
    rng = np.random.default_rng(seed)
    dim = x.shape[1]
    values = []
    for _ in range(subsets):
        a = x[rng.choice(len(x), size, replace=False)]
        b = y[rng.choice(len(y), size, replace=False)]
        k_aa, k_bb, k_ab = ((a @ a.T) / dim + 1) ** 3, ((b @ b.T) / dim + 1) ** 3, ((a @ b.T) / dim + 1) ** 3
        within = (k_aa.sum() - np.trace(k_aa) + k_bb.sum() - np.trace(k_bb)) / (size * (size - 1))
        values.append(within - 2 * k_ab.mean())
    return float(np.mean(values)), float(np.std(values))


def _stats(value: np.ndarray | FeatureStatistics) -> FeatureStatistics:
    return value if isinstance(value, FeatureStatistics) else FeatureStatistics().update(value)


@torch.inference_mode()
def compute_fid_kid(
    real_batches: Iterable[torch.Tensor],
    fake_batches: Iterable[torch.Tensor],
    extractor: FeatureExtractor,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
) -> dict[str, float]:
    """FID and KID between two streams of image batches ((B, 3, H, W) in [-1, 1]) under ``extractor``."""
    real, fake = FeatureStatistics(), FeatureStatistics()
    for batch in real_batches:
        real.update(extractor(batch))
    for batch in fake_batches:
        fake.update(extractor(batch))
    kid, kid_std = kid_from_features(real, fake, kid_subsets, kid_subset_size)
    return {"fid": fid_from_features(real, fake), "kid": kid, "kid_std": kid_std}
