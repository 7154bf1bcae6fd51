"""Converters from the original releases of public face datasets to self-contained HF dataset folders.

Each converter reads a dataset exactly as its authors distribute it (the user obtains it under its licence; it
is never redistributed here), maps its labels onto ``hf_segan``'s shared label sets and writes parquet shards
plus a dataset card that ``datasets.load_dataset(folder)`` reads. Faces are cropped with
:mod:`hf_segan.alignment`, the same code that crops user photos at inference.
"""

from .affectnet import convert_affectnet
from .celebamask_hq import convert_celebamask_hq
from .common import ConversionIssue, ConversionSummary
from .rafd import convert_rafd

#: CLI name -> converter.
CONVERTERS = {
    "celebamask-hq": convert_celebamask_hq,
    "affectnet": convert_affectnet,
    "rafd": convert_rafd,
}

__all__ = [
    "CONVERTERS",
    "ConversionIssue",
    "ConversionSummary",
    "convert_affectnet",
    "convert_celebamask_hq",
    "convert_rafd",
]
