"""Compare the PyTorch ports of face-api's detector and landmark net with the original's stored output.

    python tools/face_api_reference/check_parity.py --write-images /tmp/face_api_images   # photos for node
    (cd tools/face_api_reference && npm install --ignore-scripts &&
     node reference.mjs /tmp/face_api_images ../../tests/data/face_api_reference.json)     # the original
    python tools/face_api_reference/check_parity.py                                      # the comparison

Prints, per photo, the largest difference of box coordinates (px), scores and landmarks (px) between the port and
face-api, and exits with status 1 when boxes differ by more than 1 px or landmarks by more than 0.5 px.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hf_segan.face_api_parity import compare_with_reference, write_raw_photos

REFERENCE = Path(__file__).resolve().parents[2] / "tests" / "data" / "face_api_reference.json"
BOX_TOLERANCE_PX = 1.0
LANDMARK_TOLERANCE_PX = 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", default=str(REFERENCE), help="face-api's JSON written by reference.mjs")
    parser.add_argument("--write-images", metavar="DIR", help="only write the parity photos as raw RGB for node")
    args = parser.parse_args()
    if args.write_images:
        print(f"wrote the parity photos to {write_raw_photos(args.write_images)}")
        return 0
    reference = json.loads(Path(args.reference).read_text(encoding="utf-8"))
    result = compare_with_reference(reference)
    print(
        f"face-api {reference['face_api_version']} (tfjs {reference['tfjs_version']}, {reference['backend']} backend)"
    )
    print(f"{'photo':28} {'faces':>7} {'box px':>8} {'score':>9} {'lmk px':>8} {'lmk e2e px':>11} same pixels")
    for row in result["rows"]:
        faces = f"{row['faces_port']}/{row['faces_reference']}"
        print(
            f"{row['name']:28} {faces:>7} {row['box_px']:8.1e} {row['score']:9.1e} {row['landmark_px']:8.1e} "
            f"{row['landmark_end_to_end_px']:11.4f} {row['same_pixels']}"
        )
    print(
        f"max: box {result['box_px']:.1e} px, score {result['score']:.1e}, landmarks {result['landmark_px']:.1e} px "
        f"(end to end {result['landmark_end_to_end_px']:.4f} px)"
    )
    same_faces = all(row["faces_port"] == row["faces_reference"] for row in result["rows"])
    ok = same_faces and result["box_px"] <= BOX_TOLERANCE_PX and result["landmark_px"] <= LANDMARK_TOLERANCE_PX
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
