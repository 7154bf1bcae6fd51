"""Image quality of generated sets: FID and KID on features of a pluggable extractor.

The standard FID network (Inception-v3 with the 2015 TensorFlow weights, ``metrics.inception``) needs a weights
file that cannot be fetched on every machine, so the feature extractor is any callable
``(B, 3, H, W) in [-1, 1] -> (B, D)``. Scores are only comparable between runs that used the same extractor,
which is why reports name it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch

from ..models.validation import check_image

FeatureExtractor = Callable[[torch.Tensor], torch.Tensor]


class FeatureStatistics:
    """Streaming mean and covariance of feature vectors, from float64 running sums.

    Sums are taken around the first batch's mean: features of a trained network share a large common offset, and
    ``E[x x^T] - m m^T`` computed without a shift loses most of its digits to it. The features themselves are kept
    (for KID) only when ``keep_features`` is set.
    """

    def __init__(self, keep_features: bool = True) -> None:
        self.count = 0
        self._shift: np.ndarray | None = None
        self._sum: np.ndarray | None = None
        self._outer: np.ndarray | None = None
        self._features: list[np.ndarray] | None = [] if keep_features else None

    def update(self, features: torch.Tensor | np.ndarray) -> FeatureStatistics:
        """Add a batch of feature vectors shaped (N, D)."""
        array = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor) else features, np.float64)
        if array.ndim != 2:
            raise ValueError(f"features must have shape (N, D), got {array.shape}.")
        if not np.isfinite(array).all():
            raise ValueError("features contain NaN or infinite values.")
        if self._shift is None:
            self._shift = array.mean(0) if len(array) else np.zeros(array.shape[1])
            self._sum, self._outer = np.zeros(array.shape[1]), np.zeros((array.shape[1],) * 2)
        elif array.shape[1] != self._shift.shape[0]:
            raise ValueError(f"feature width changed from {self._shift.shape[0]} to {array.shape[1]}.")
        centred = array - self._shift
        self.count += array.shape[0]
        self._sum += centred.sum(0)
        self._outer += centred.T @ centred
        if self._features is not None:
            self._features.append(array)
        return self

    @property
    def mean(self) -> np.ndarray:
        self._require(1)
        return self._shift + self._sum / self.count

    @property
    def cov(self) -> np.ndarray:
        """Unbiased covariance (as ``np.cov``)."""
        self._require(2)
        offset = self._sum / self.count
        return (self._outer - self.count * np.outer(offset, offset)) / (self.count - 1)

    @property
    def features(self) -> np.ndarray:
        if self._features is None:
            raise ValueError("features were not kept (keep_features=False).")
        self._require(1)
        return np.concatenate(self._features)

    def _require(self, n: int) -> None:
        if self.count < n:
            raise ValueError(f"need at least {n} feature vectors, got {self.count}.")


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix; rounding's tiny negative eigenvalues become 0."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))``, the Fréchet distance of two Gaussians.

    ``S1 S2`` is not symmetric, and its general matrix square root (``scipy.linalg.sqrtm``) returns complex
    rounding noise, or fails, when the covariances are singular, as they are whenever there are fewer samples
    than feature dimensions. ``S1 S2`` is similar to the symmetric PSD ``S1^(1/2) S2 S1^(1/2)``, so the trace of
    its root is the sum of the square roots of that matrix's eigenvalues: real, and stable for singular inputs.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    dim = mu1.shape[0]
    if mu1.shape != (dim,) or mu2.shape != (dim,) or sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise ValueError(
            f"Expected means (D,) and covariances (D, D) of one dimension D, got {mu1.shape}, {sigma1.shape}, "
            f"{mu2.shape} and {sigma2.shape}."
        )
    sigma1, sigma2 = (sigma1 + sigma1.T) / 2, (sigma2 + sigma2.T) / 2
    root1 = _psd_sqrt(sigma1)
    product_eigenvalues = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    trace_root = np.sqrt(np.clip(product_eigenvalues, 0.0, None)).sum()
    diff = mu1 - mu2
    return float(max(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_root, 0.0))


def fid_from_features(real: np.ndarray | FeatureStatistics, fake: np.ndarray | FeatureStatistics) -> float:
    """FID between two feature sets, given as (N, D) arrays or accumulated ``FeatureStatistics``."""
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
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"The feature sets have different widths: {x.shape[1]} and {y.shape[1]}.")
    if subsets < 1:
        raise ValueError(f"subsets must be >= 1, got {subsets}.")
    size = min(subset_size, len(x), len(y))
    if size < 2:
        raise ValueError(f"KID needs subsets of at least 2 samples; got {len(x)} and {len(y)}, size {subset_size}.")
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
    real_images: Iterable[torch.Tensor],
    fake_images: Iterable[torch.Tensor],
    feature_extractor: FeatureExtractor,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """FID and KID between two streams of image batches ((B, 3, H, W) in [-1, 1]) under ``feature_extractor``.

    ``feature_extractor`` is any callable from such a batch to (B, D) features: ``load_fid_inception(path)`` for
    numbers comparable with papers, or another network, whose name must then be reported with the scores.
    """
    real, fake = FeatureStatistics(), FeatureStatistics()
    for stats, batches, name in ((real, real_images, "real_images"), (fake, fake_images, "fake_images")):
        for batch in batches:
            check_image(batch, name)
            features = feature_extractor(batch)
            if not isinstance(features, torch.Tensor) or features.ndim != 2 or features.shape[0] != batch.shape[0]:
                shape = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
                raise ValueError(f"feature_extractor must return (B, D) features for B={batch.shape[0]}, got {shape}.")
            stats.update(features)
    kid, kid_std = kid_from_features(real, fake, kid_subsets, kid_subset_size, seed)
    return {"fid": fid_from_features(real, fake), "kid": kid, "kid_std": kid_std}
