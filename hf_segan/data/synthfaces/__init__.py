"""SynthFaces: procedural faces with exact 19-class labels and ground truth for every expression edit.

The paper's datasets are licence-gated; SynthFaces exercises every part of training and evaluation for real and,
unlike any face dataset, can render the *true* result of an edit (same identity, target expression), so edits
are scored against ground truth.
"""

from .contact_sheet import make_contact_sheet
from .dataset import load_synthfaces, synthfaces_features, write_imagefolder
from .landmarks import synthfaces_landmarks
from .params import (
    PROTOTYPES,
    SPLITS,
    ExpressionParams,
    Identity,
    expression_params,
    sample_identity,
    split_identity_ids,
)
from .render import render_face

__all__ = [
    "PROTOTYPES",
    "SPLITS",
    "ExpressionParams",
    "Identity",
    "expression_params",
    "load_synthfaces",
    "make_contact_sheet",
    "render_face",
    "sample_identity",
    "split_identity_ids",
    "synthfaces_features",
    "synthfaces_landmarks",
    "write_imagefolder",
]
