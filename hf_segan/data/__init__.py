"""Datasets for hf_segan: converters from the original public releases into HF Datasets folders."""

from .convert import (
    CONVERTERS,
    ConversionIssue,
    ConversionSummary,
    convert_affectnet,
    convert_celebamask_hq,
    convert_rafd,
)

__all__ = [
    "CONVERTERS",
    "ConversionIssue",
    "ConversionSummary",
    "convert_affectnet",
    "convert_celebamask_hq",
    "convert_rafd",
]
