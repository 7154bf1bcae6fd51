"""A contact sheet of SynthFaces: a header of expression names, then one row pair per identity (faces, then their
parsing overlays), one column per expression, so people can check what the generator draws and labels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from ...constants import EXPRESSIONS
from ...image_utils import overlay_labels
from .params import sample_identity, split_identity_ids
from .render import render_face

HEADER_HEIGHT = 16


def _header(names: Sequence[str], size: int) -> np.ndarray:
    """A white strip with each column's expression name, centred over its column."""
    strip = Image.new("RGB", (size * len(names), HEADER_HEIGHT), "white")
    draw = ImageDraw.Draw(strip)
    for column, name in enumerate(names):
        draw.text((column * size + size / 2, HEADER_HEIGHT / 2), name, fill="black", anchor="mm")
    return np.asarray(strip)


def make_contact_sheet(
    num_identities: int = 6,
    expressions: Sequence[str] = EXPRESSIONS,
    size: int = 96,
    split: str = "train",
    seed: int = 0,
    intensity: float = 1.0,
    overlays: bool = True,
) -> Image.Image:
    """A grid image: for each identity a row of its expressions at ``intensity``, followed (with ``overlays``) by
    the same row with the label maps drawn over it (:func:`hf_segan.image_utils.overlay_labels`)."""
    rows = [_header(expressions, size)]
    for identity_id in split_identity_ids(split, num_identities):
        identity = sample_identity(identity_id, seed)
        renders = [render_face(identity, name, intensity, size) for name in expressions]
        rows.append(np.concatenate([rgb for rgb, _ in renders], axis=1))
        if overlays:
            rows.append(np.concatenate([np.asarray(overlay_labels(rgb, labels)) for rgb, labels in renders], axis=1))
    return Image.fromarray(np.concatenate(rows, axis=0))
