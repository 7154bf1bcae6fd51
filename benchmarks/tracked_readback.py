"""Validation of the tracked instrument (``hf_segan.metrics.tracked_geometry``) on known motions, next to the
landmark net.

    python benchmarks/tracked_readback.py [--csv benchmarks/results/tracked_readback.csv]

On the 8 development views (``hf_segan.photo_evaluation.development_photos``: astronaut and Grace Hopper, mirrored
and turned by +-10 degrees), nothing here comes from an edit's own field:

1. **Known similarities** (no expression change): each view tracked into itself, into itself shifted by (5.3, -3.7)
   px, and turned by +-10 degrees about its face's centre. Printed: the share of feature points (brows, nose, eyes,
   mouth) tracked, their largest distance from where the similarity put them, and the change of each tracked
   measure (0 expected); the spread over the turns is the tracker's noise, next to the landmark net's spread over
   the same views (``landmark_noise``, from which the thresholds come).
2. **Known local warps**: the eye-opening probe's lid moves (``eye_opening_probe.warp_lids``) and the brow
   read-back's brow moves (``brow_readback.KnownBrowMove`` through ``edit_face_geometry``), warped as an edit warps
   a photo. Printed per move: what the warp applied to the landmarks, what the landmark net reads back and what
   the tracker reads back (mean over the views it measured, and how many it measured), each as a share of the
   applied move.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from brow_readback import KnownBrowMove
from eye_opening_probe import warp_lids
from results_csv import write_rows

from hf_segan.alignment import find_faces
from hf_segan.expressions import expression_condition
from hf_segan.landmarks import landmarks_in_box
from hf_segan.metrics.expression_geometry import expression_measures
from hf_segan.metrics.tracked_geometry import TRACKED_MEASURES, track_landmarks
from hf_segan.photo_evaluation import development_photos, find_face, landmark_noise
from hf_segan.photo_geometry import edit_face_geometry
from hf_segan.warp_field import eye_distance

FEATURES = slice(17, 68)
SHIFT = (5.3, -3.7)
TURNS = (-10.0, 10.0)
LID_MOVES = {variant: (0.025, 0.05, 0.1) for variant in ("open_both", "open_upper", "close_both")}
BROW_MOVES = {"pull 0.05": (0.05, 0.0), "lower 0.06": (0.0, 0.06), "pull 0.05 + lower 0.06": (0.05, 0.06)}


def changes(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    first, second = expression_measures(before), expression_measures(after, allow_missing=True)
    return {name: second[name] - first[name] for name in TRACKED_MEASURES}


def similarity_rows(photo, points: np.ndarray) -> list[dict[str, object]]:
    """The view tracked into itself and into known similarities of itself."""
    centre = points[FEATURES].mean(0)
    motions = {
        "identity": np.array([[1.0, 0, 0], [0, 1.0, 0]]),
        "shift": np.array([[1.0, 0, SHIFT[0]], [0, 1.0, SHIFT[1]]]),
    }
    for degrees in TURNS:
        motions[f"turn {degrees:+g}"] = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), degrees, 1.0)
    rows = []
    height, width = photo.rgb.shape[:2]
    for name, matrix in motions.items():
        moved = cv2.warpAffine(
            photo.rgb, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101
        )
        tracked = track_landmarks(photo.rgb, moved, points)
        expected = points @ matrix[:, :2].T + matrix[:, 2]
        error = np.linalg.norm(tracked[FEATURES] - expected[FEATURES], axis=1) / eye_distance(points)
        measured = np.isfinite(error)
        rows.append(
            {
                "photo": photo.name,
                "motion": name,
                "features_tracked": round(float(measured.mean()), 3),
                "max_error_iod": round(float(error[measured].max()), 4) if measured.any() else "",
                **{f"tracked_{m}": round(v, 4) for m, v in changes(points, tracked).items()},
            }
        )
    return rows


def warp_rows(photo, points: np.ndarray, box) -> list[dict[str, object]]:
    """Known lid and brow moves: applied, read by the net, read by the tracker."""
    face = find_faces(photo.rgb, faces="largest", size=128)[0][0]
    original = landmarks_in_box(photo.rgb, box)
    warps = []
    for variant, amounts in LID_MOVES.items():
        for amount in amounts:
            warped, _, source, target = warp_lids(photo.rgb, face, variant, amount)
            warps.append((f"lids {variant} {amount:g}", warped, source, target))
    condition = expression_condition("neutral")
    for name, (pull, lower) in BROW_MOVES.items():
        edit = edit_face_geometry(photo.rgb, face, KnownBrowMove(pull, lower), condition)
        warps.append((f"brows {name}", edit.image, edit.source, edit.target))
    rows = []
    for name, warped, source, target in warps:
        applied = changes(source, target)
        net = changes(original, landmarks_in_box(warped, box))
        tracked = changes(points, track_landmarks(photo.rgb, warped, points))
        row: dict[str, object] = {"photo": photo.name, "motion": name}
        for measure in TRACKED_MEASURES:
            row[f"applied_{measure}"] = round(applied[measure], 4)
            row[f"net_{measure}"] = round(net[measure], 4)
            row[f"tracked_{measure}"] = round(tracked[measure], 4)
        rows.append(row)
    return rows


def print_similarities(rows: list[dict[str, object]], net_noise: dict[str, float]) -> None:
    print("\n1. Known similarities (8 views each; measure changes should be 0)\n")
    print(
        "| motion | feature points tracked | largest error (IOD) | "
        + " | ".join(f"{m} change (mean, max abs)" for m in TRACKED_MEASURES)
        + " |"
    )
    print("|---|---|---|" + "---|" * len(TRACKED_MEASURES))
    for motion in dict.fromkeys(row["motion"] for row in rows):
        mine = [row for row in rows if row["motion"] == motion]
        errors = [row["max_error_iod"] for row in mine if row["max_error_iod"] != ""]
        cells = [f"{np.mean([row['features_tracked'] for row in mine]):.3f}", f"{max(errors):.4f}"]
        for measure in TRACKED_MEASURES:
            values = np.array([row[f"tracked_{measure}"] for row in mine], dtype=float)
            finite = values[np.isfinite(values)]
            cells.append(f"{finite.mean():+.4f}, {np.abs(finite).max():.4f} ({len(finite)}/{len(values)} measured)")
        print(f"| {motion} | " + " | ".join(cells) + " |")
    turns = [row for row in rows if str(row["motion"]).startswith("turn")]
    print("\nNoise on unedited views (turns of +-10 degrees of the 8 views; net: spread between the views):\n")
    print("| measure | tracker RMS change | 3 x tracker | landmark net spread | 3 x net |\n|---|---|---|---|---|")
    for measure in TRACKED_MEASURES:
        values = np.array([row[f"tracked_{measure}"] for row in turns], dtype=float)
        rms = float(np.sqrt(np.nanmean(values**2)))
        print(f"| {measure} | {rms:.4f} | {3 * rms:.4f} | {net_noise[measure]:.4f} | {3 * net_noise[measure]:.4f} |")


def print_warps(rows: list[dict[str, object]]) -> None:
    print("\n2. Known local warps (mean over the 8 views; tracker over the views it measured)\n")
    print("| move | measure | applied | landmark net reads (share) | tracker reads (share, measured) |")
    print("|---|---|---|---|---|")
    for motion in dict.fromkeys(row["motion"] for row in rows):
        mine = [row for row in rows if row["motion"] == motion]
        for measure in TRACKED_MEASURES:
            applied = np.mean([row[f"applied_{measure}"] for row in mine])
            if abs(applied) < 1e-3:
                continue
            net = np.mean([row[f"net_{measure}"] for row in mine])
            tracked = np.array([row[f"tracked_{measure}"] for row in mine], dtype=float)
            finite = tracked[np.isfinite(tracked)]
            reads = f"{finite.mean():+.3f} ({finite.mean() / applied:.0%}" if len(finite) else "n/a (n/a"
            print(
                f"| {motion} | {measure} | {applied:+.3f} | {net:+.3f} ({net / applied:.0%}) | "
                f"{reads}, {len(finite)}/{len(tracked)}) |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", default="benchmarks/results/tracked_readback.csv")
    args = parser.parse_args()
    photos = development_photos()
    similarity, warps = [], []
    for photo in photos:
        found = find_face(photo)
        similarity += similarity_rows(photo, found.points)
        warps += warp_rows(photo, found.points, found.box)
        print(f"{photo.name} done", flush=True)
    print_similarities(similarity, landmark_noise(photos))
    print_warps(warps)
    write_rows(Path(args.csv), similarity + warps)
    print(f"\nWrote {args.csv}")


if __name__ == "__main__":
    main()
