"""How far the bundled model's geometric photo edits move a face, measured again on the edited photo.

    python benchmarks/photo_geometry.py [--csv benchmarks/results/photo_geometry.csv]

For the two development photos (and their mirror images) and each target expression at intensity 1 and 0.5: the
landmark net is run again on the edited photo inside the face box found on the original, and the moves are
reported in eye distances (y up is positive): mouth-corner height, mouth opening (inner lips), brow height (mean
of the ten brow points) and eye opening (upper to lower lid), each relative to the original photo; plus fidelity:
the share of the face box that changed, the ratio of the face box's sharpness (variance of the Laplacian) after
and before, and the seconds per edit.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
from make_figures import EXPRESSIONS, sample_photos
from results_csv import write_rows

from hf_segan.landmarks import detect_landmarks, landmarks_in_box
from hf_segan.pipeline import SeganPipeline, default_model_path
from hf_segan.warp_field import eye_distance


def measures(points: np.ndarray) -> dict[str, float]:
    """Expression-geometry measures of 68 landmarks, in pixels (y up positive)."""
    return {
        "corner_height": -float(points[[48, 54], 1].mean()),
        "mouth_open": float(points[[65, 66, 67], 1].mean() - points[[61, 62, 63], 1].mean()),
        "brow_height": -float(points[17:27, 1].mean()),
        "eye_open": float(points[[40, 41, 46, 47], 1].mean() - points[[37, 38, 43, 44], 1].mean()),
    }


def sharpness(gray: np.ndarray) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", help="also write the rows to this CSV file")
    args = parser.parse_args(argv)
    pipe = SeganPipeline.from_pretrained(default_model_path())
    rows = []
    photos = sample_photos()
    photos.update({f"{name} (mirrored)": np.ascontiguousarray(rgb[:, ::-1]) for name, rgb in list(photos.items())})
    for name, rgb in photos.items():
        face = detect_landmarks(rgb, max_faces=1)[0]
        x, y, w, h = (round(v) for v in face.box)
        before = measures(face.points)
        unit = eye_distance(face.points)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[max(0, y) : y + h, max(0, x) : x + w]
        for expression in EXPRESSIONS:
            for intensity in (1.0, 0.5):
                start = time.perf_counter()
                edited = np.asarray(pipe.edit_photo(rgb, expression, intensity).image)
                seconds = time.perf_counter() - start
                after = measures(landmarks_in_box(edited, face.box))
                changed = np.any(edited != rgb, axis=-1)
                edited_gray = cv2.cvtColor(edited, cv2.COLOR_RGB2GRAY)[max(0, y) : y + h, max(0, x) : x + w]
                row = {"photo": name, "expression": expression, "intensity": intensity}
                row.update({key: round((after[key] - before[key]) / unit, 4) for key in before})
                row["changed_share_of_box"] = round(float(changed[max(0, y) : y + h, max(0, x) : x + w].mean()), 4)
                row["sharpness_ratio"] = round(sharpness(edited_gray) / sharpness(gray), 4)
                row["seconds"] = round(seconds, 2)
                rows.append(row)
                if len(rows) == 1:
                    print(",".join(row), flush=True)
                print(",".join(str(v) for v in row.values()), flush=True)
    if args.csv:
        write_rows(Path(args.csv), rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
