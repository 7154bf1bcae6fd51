"""Metrics: face parsing (streaming confusion matrix), image quality (FID/KID on pluggable features) and
expression editing (PSNR/SSIM to ground truth, unwanted change, judge accuracy, ACD)."""

from .editing import average_content_distance, expression_accuracy, psnr, ssim, unwanted_change
from .image_quality import (
    FeatureStatistics,
    compute_fid_kid,
    fid_from_features,
    frechet_distance,
    kid_from_features,
)
from .parsing import ConfusionMatrix

__all__ = [
    "ConfusionMatrix",
    "FeatureStatistics",
    "average_content_distance",
    "compute_fid_kid",
    "expression_accuracy",
    "fid_from_features",
    "frechet_distance",
    "kid_from_features",
    "psnr",
    "ssim",
    "unwanted_change",
]
