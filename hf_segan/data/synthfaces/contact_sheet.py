"""A contact sheet of SynthFaces: one row pair per identity (faces, then parsing overlays), one column per
expression, for people to look at what the generator draws."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from ...constants import EXPRESSIONS
from ...image_utils import overlay_labels
from .params import sample_identity, split_identity_ids
from .render import render_face


def make_contact_sheet(
    num_identities: int = 6,
    expressions: Sequence[str] = EXPRESSIONS,
    size: int = 96,
    split: str = "train",
    seed: int = 0,
    overlays: bool = True,
) -> Image.Image:
    """A grid image: for each identity a row of its expressions, followed by the same row with parsing overlays."""
    rows = []
    for identity_id in split_identity_ids(split, num_identities):
        identity = sample_identity(identity_id, seed)
        renders = [render_face(identity, name, 1.0, size) for name in expressions]
        rows.append(np.concatenate([rgb for rgb, _ in renders], axis=1))
        if overlays:
            rows.append(np.concatenate([np.asarray(overlay_labels(rgb, labels)) for rgb, labels in renders], axis=1))
    return Image.fromarray(np.concatenate(rows, axis=0))
