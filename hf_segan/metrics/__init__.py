"""Metrics: face parsing (streaming confusion matrix), image quality (FID/KID on pluggable features, and the FID
Inception-v3 loaded from a local weights file) and expression editing (PSNR/SSIM to ground truth, unwanted change,
judge accuracy, ACD)."""

from .editing import (
    PSNR_CAP_DB,
    EditingMetrics,
    average_content_distance,
    expression_accuracy,
    psnr,
    ssim,
    unwanted_change,
)
from .image_quality import (
    FeatureExtractor,
    FeatureStatistics,
    compute_fid_kid,
    fid_from_features,
    frechet_distance,
    kid_from_features,
)
from .inception import INCEPTION_FEATURE_DIM, FIDInceptionV3, load_fid_inception
from .parsing import ConfusionMatrix

__all__ = [
    "INCEPTION_FEATURE_DIM",
    "PSNR_CAP_DB",
    "ConfusionMatrix",
    "EditingMetrics",
    "FIDInceptionV3",
    "FeatureExtractor",
    "FeatureStatistics",
    "average_content_distance",
    "compute_fid_kid",
    "expression_accuracy",
    "fid_from_features",
    "frechet_distance",
    "kid_from_features",
    "load_fid_inception",
    "psnr",
    "ssim",
    "unwanted_change",
]
