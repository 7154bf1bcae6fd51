"""Draw ``docs/real_photo_edits.png``: the bundled model's edits of two real photos next to its SynthFaces edits.

    python docs/make_figures.py [--out docs/real_photo_edits.png]

Rows: scikit-image's astronaut and matplotlib's Grace Hopper (public-domain photos that ship inside those packages)
edited by ``SeganPipeline.edit_photo`` (geometry only) at intensity 1 and 0.5, then an unseen SynthFaces identity
edited by the learned editor (``pipe(crops)``). Columns: the input, then each target expression. Photo tiles show
the face region of the full-resolution result, not a resized edit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np
from PIL import Image
from skimage import data

from hf_segan.data.synthfaces import render_face, sample_identity, split_identity_ids
from hf_segan.pipeline import SeganPipeline, default_model_path

EXPRESSIONS = ("neutral", "happy", "sad", "surprise", "anger", "fear")
TILE = 192
HEADER = 28


def sample_photos() -> dict[str, np.ndarray]:
    """The two development photos as RGB arrays."""
    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as hopper:
        return {"astronaut": data.astronaut(), "Grace Hopper": np.asarray(hopper.convert("RGB"))}


def _face_tile(image: np.ndarray, box) -> np.ndarray:
    """The square around a face box (grown by a quarter on each side), area-resized to a tile."""
    side = 1.5 * max(box.width, box.height)
    cx, cy = box.x + box.width / 2, box.y + box.height / 2
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    crop = image[y0 : int(cy + side / 2), x0 : int(cx + side / 2)]
    return cv2.resize(crop, (TILE, TILE), interpolation=cv2.INTER_AREA)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    header = np.full((HEADER, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(header, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([header, tile])


def photo_rows(pipe: SeganPipeline) -> list[np.ndarray]:
    rows = []
    for name, rgb in sample_photos().items():
        for intensity in (1.0, 0.5):
            tiles, box = [], None
            for expression in EXPRESSIONS:
                result = pipe.edit_photo(rgb, expression, intensity)
                box = result.faces[0]
                tiles.append(_label(_face_tile(np.asarray(result.image), box), f"{expression} {intensity:g}"))
            rows.append(np.concatenate([_label(_face_tile(rgb, box), f"{name}"), *tiles], axis=1))
    return rows


def synthfaces_row(pipe: SeganPipeline) -> np.ndarray:
    identity = sample_identity(split_identity_ids("test", 1)[0])
    source, _ = render_face(identity, "neutral", size=pipe.config.resolution)
    edits = [pipe(source, expression, output_type="np").images[0] for expression in EXPRESSIONS]

    def tile(image: np.ndarray) -> np.ndarray:
        return cv2.resize(image, (TILE, TILE), interpolation=cv2.INTER_NEAREST)

    labelled = [_label(tile(source), "SynthFaces")]
    pairs = zip(EXPRESSIONS, edits, strict=True)
    labelled += [_label(tile(edit), f"{expression} 1 (editor)") for expression, edit in pairs]
    return np.concatenate(labelled, axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "real_photo_edits.png"))
    args = parser.parse_args(argv)
    pipe = SeganPipeline.from_pretrained(default_model_path())
    figure = np.concatenate([*photo_rows(pipe), synthfaces_row(pipe)], axis=0)
    out = Path(args.out)
    tmp = out.with_name(f".{out.name}.tmp.png")
    Image.fromarray(figure).save(tmp)
    tmp.replace(out)
    print(f"Wrote {out} ({figure.shape[1]}x{figure.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
