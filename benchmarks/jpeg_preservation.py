"""How much an edit changes a JPEG photo far from the face: the edit as written now (the source's own tables and
subsampling), against JPEG's floor (re-encoding the untouched decoded pixels with those tables) and against the
old quality-75 re-encoding.

    python benchmarks/jpeg_preservation.py [--out benchmarks/results/jpeg_preservation.csv]

The photo is scikit-image's astronaut saved at each source quality; "far" means outside twice the detected face
box, where the paste region never reaches. Differences are in 8-bit levels over all three channels.
"""

from __future__ import annotations

import argparse
import io
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from results_csv import write_rows
from skimage import data

from hf_segan.alignment import detect_faces
from hf_segan.io import load_image, save_image_atomic
from hf_segan.pipeline import SeganPipeline, default_model_path


def far_mask(photo: np.ndarray) -> np.ndarray:
    face = detect_faces(photo)[0]
    far = np.ones(photo.shape[:2], bool)
    cx, cy = face.x + face.width / 2, face.y + face.height / 2
    far[max(0, int(cy - face.height)) : int(cy + face.height), max(0, int(cx - face.width)) : int(cx + face.width)] = 0
    return far


def reencoded(pixels: np.ndarray, **options) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", **options)
    return np.asarray(Image.open(buffer))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/results/jpeg_preservation.csv")
    args = parser.parse_args()
    pipe = SeganPipeline.from_pretrained(default_model_path())
    photo = data.astronaut()
    far = far_mask(photo)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for quality in (75, 90, 95):
            source = Path(folder) / f"q{quality}.jpg"
            Image.fromarray(photo).save(source, quality=quality)
            loaded = load_image(source)
            decoded = np.asarray(Image.open(source))
            edited = pipe.edit_photo(loaded, "happy").image
            written = np.asarray(Image.open(save_image_atomic(edited, Path(folder) / "out.jpg", like=loaded)))
            original = Image.open(source)
            cases = {
                "edit, source tables (now)": written,
                "floor: untouched pixels, source tables": np.asarray(Image.open(_keep(original))),
                "edit pixels at quality 75 (before)": reencoded(np.asarray(edited)),
            }
            for name, pixels in cases.items():
                difference = np.abs(pixels.astype(int) - decoded.astype(int))[far]
                row = {"source_quality": quality, "case": name, "far_max": int(difference.max())}
                row["far_mean"] = round(float(difference.mean()), 4)
                row["far_changed_fraction"] = round(float((difference > 0).mean()), 4)
                rows.append(row)
                print(row)
    write_rows(Path(args.out), rows)


def _keep(original: Image.Image) -> io.BytesIO:
    buffer = io.BytesIO()
    original.save(buffer, "JPEG", quality="keep")
    return buffer


if __name__ == "__main__":
    main()
