"""Does face-api's landmark net see an eye open or close? Known lid moves applied to the development photos, and
what the net reads back.

    python benchmarks/eye_opening_probe.py [--csv benchmarks/results/eye_opening_probe.csv] [--plot PNG] [--eyes IMAGE]

For scikit-image's astronaut and matplotlib's Grace Hopper, the eyelid landmarks of the aligned face are moved by
known amounts and the photo is warped exactly as an edit warps it (:mod:`hf_segan.warp_field`: the Wendland field
on the 128-px crop, the face mask and forehead anchors, the photo's own pixels resampled). The landmark net is then
run again in the face box found on the original, as the real-photo evaluation does, and ``eye_opening`` (mean gap
between facing lid points, inter-ocular distances) is compared with the gap the warp applied. Variants:

- ``open_both``: upper lids up and lower lids down by half the amount each (the iris is stretched);
- ``open_upper``: the upper lids alone go up (what a surprised eye does; the upper iris is stretched);
- ``open_upper_small``: the same with a kernel of 0.25 instead of 0.6 eye distances (only the lid region moves);
- ``close_both``: the lids move toward each other (at 0.1 the eye is nearly shut);
- ``shift_eyes_up``: a control: all twelve eye points go up together; what is reported is the eye centres' height.

``--plot`` draws read-back against applied (hollow where the warp folds more than an edit may, Jacobian below
``MIN_JACOBIAN``); ``--eyes`` shows the eyes of the original and of three of the warps, with the eye points the net
reads back (green) and where the warp put them (red).
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import cv2
import numpy as np
from results_csv import write_rows

from hf_segan.alignment import AlignedFace, find_faces
from hf_segan.face_api_parity import development_photos
from hf_segan.landmarks import EYELID_PAIRS, detect_landmarks, landmarks_in_box
from hf_segan.metrics.expression_geometry import expression_measures, face_frame_points
from hf_segan.photo_geometry import MIN_JACOBIAN
from hf_segan.warp_field import eye_distance, face_mask, field_in_photo, forehead_anchors, landmark_field, warp_photo

UPPER_LIDS = [upper for upper, _ in EYELID_PAIRS]
LOWER_LIDS = [lower for _, lower in EYELID_PAIRS]
EYES = list(range(36, 48))
AMOUNTS = (0.025, 0.05, 0.075, 0.1)
#: The warps shown in the ``--eyes`` picture.
SHOWN = {("open_both", 0.1), ("open_upper", 0.075), ("close_both", 0.075)}
#: Each variant: (upper-lid move, lower-lid move, whole-eye move) as shares of the amount (y down), kernel radius
#: in eye distances (None: the edit's own), and the quantity reported.
VARIANTS = {
    "open_both": (-0.5, 0.5, 0.0, None, "eye_opening"),
    "open_upper": (-1.0, 0.0, 0.0, None, "eye_opening"),
    "open_upper_small": (-1.0, 0.0, 0.0, 0.25, "eye_opening"),
    "close_both": (0.5, -0.5, 0.0, None, "eye_opening"),
    "shift_eyes_up": (0.0, 0.0, -1.0, None, "eye_height"),
}


def eye_height(points: np.ndarray) -> float:
    """Height of the eye centres above the nose tip (point 30), inter-ocular distances: where the eyes are."""
    frame = face_frame_points(points)
    return float(frame[30, 1])


def quantity(points: np.ndarray, name: str) -> float:
    return eye_height(points) if name == "eye_height" else expression_measures(points)[name]


def eye_strip(
    rgb: np.ndarray, around: np.ndarray, read: np.ndarray, applied: np.ndarray | None, label: str
) -> np.ndarray:
    """The eyes' region around the landmarks ``around`` (3x enlarged) with the net's eye points ``read`` (green)
    and the warp's ``applied`` (red), labelled."""
    x0, y0 = np.floor(around[EYES].min(0) - np.array([0.25, 0.35]) * eye_distance(around)).astype(int)
    x1, y1 = np.ceil(around[EYES].max(0) + np.array([0.25, 0.35]) * eye_distance(around)).astype(int)
    zoom = 3
    strip = cv2.resize(np.ascontiguousarray(rgb[y0:y1, x0:x1]), None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
    for points, colour in ((applied, (255, 40, 40)), (read, (40, 255, 40))):
        if points is not None:
            for x, y in (points[EYES] - [x0, y0] + 0.5) * zoom:
                cv2.circle(strip, (round(x), round(y)), 2, colour, -1, cv2.LINE_AA)
    strip = cv2.resize(strip, (360, round(360 * strip.shape[0] / strip.shape[1])), interpolation=cv2.INTER_AREA)
    cv2.putText(strip, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return strip


def warp_lids(rgb: np.ndarray, face: AlignedFace, variant: str, amount: float):
    """``rgb`` warped as an edit warps it, with the eye landmarks of ``face`` (aligned from its landmarks) moved by
    ``VARIANTS[variant]`` times ``amount`` eye distances: (warped photo, field, the moved landmarks' source and
    target in photo pixels)."""
    upper, lower, whole, radius, _ = VARIANTS[variant]
    source = np.asarray(face.landmarks, np.float64)
    distance = eye_distance(source)
    moves = np.zeros((68, 2))
    moves[UPPER_LIDS, 1] += upper * amount * distance
    moves[LOWER_LIDS, 1] += lower * amount * distance
    moves[EYES, 1] += whole * amount * distance
    target = source + moves
    field = landmark_field(
        source,
        target,
        face.size,
        radius=None if radius is None else radius * distance,
        limit=face_mask(source, face.size),
        anchors=forehead_anchors(source),
    )
    warped, _ = warp_photo(rgb, *field_in_photo(field, face.inverse, face.matrix, rgb.shape[:2]))
    to_photo = face.inverse[:, :2].T
    return warped, field, source @ to_photo + face.inverse[:, 2], target @ to_photo + face.inverse[:, 2]


def probe(name: str, rgb: np.ndarray, strips: list[np.ndarray]) -> list[dict[str, object]]:
    faces, _ = find_faces(rgb, "largest", size=128)
    face = faces[0]
    found = detect_landmarks(rgb, max_faces=1)[0]
    before = expression_measures(found.points)["eye_opening"]
    strips.append(eye_strip(rgb, found.points, found.points, None, f"{name}: eye opening {before:.3f}"))
    rows = []
    for variant, (*_, reported) in VARIANTS.items():
        for amount in AMOUNTS:
            warped, field, source_photo, target_photo = warp_lids(rgb, face, variant, amount)
            read = landmarks_in_box(warped, found.box)
            applied = quantity(target_photo, reported) - quantity(source_photo, reported)
            read_back = quantity(read, reported) - quantity(found.points, reported)
            rows.append(
                {
                    "photo": name,
                    "variant": variant,
                    "quantity": reported,
                    "amount": amount,
                    "applied": round(applied, 4),
                    "read_back": round(read_back, 4),
                    "min_jacobian": round(field.min_jacobian(), 3),
                }
            )
            if (variant, amount) in SHOWN:
                label = f"{variant}: {applied:+.3f} -> read {read_back:+.3f}"
                strips.append(eye_strip(warped, found.points, read, target_photo, label))
            print(
                f"{name:13s} {variant:17s} {amount:.3f}: applied {applied:+.3f}, read back {read_back:+.3f}, "
                f"min Jacobian {field.min_jacobian():.2f}"
            )
    return rows


def plot(rows: list[dict[str, object]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for axis, photo in zip(axes, dict.fromkeys(row["photo"] for row in rows), strict=True):
        for variant in VARIANTS:
            mine = [row for row in rows if row["photo"] == photo and row["variant"] == variant]
            line = axis.plot([r["applied"] for r in mine], [r["read_back"] for r in mine], "-", label=variant)[0]
            for row in mine:
                folds = row["min_jacobian"] < MIN_JACOBIAN
                axis.plot(row["applied"], row["read_back"], "o", color=line.get_color(), mfc="none" if folds else None)
        axis.plot([-0.1, 0.1], [-0.1, 0.1], "k:", label="read back = applied")
        axis.axhline(0.02, color="grey", lw=0.8)
        axis.axhline(-0.02, color="grey", lw=0.8)
        axis.set_title(photo)
        axis.set_xlabel("applied by the warp (eye distances)")
    axes[0].set_ylabel("read back by the landmark net (eye distances)")
    axes[1].legend(fontsize=8)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", default="benchmarks/results/eye_opening_probe.csv")
    parser.add_argument("--plot", default="docs/eye_opening_probe.png")
    parser.add_argument("--eyes", default="docs/eye_opening_probe_eyes.jpg")
    args = parser.parse_args()
    strips: list[np.ndarray] = []
    rows = [row for name, rgb in development_photos().items() for row in probe(name, rgb, strips)]
    write_rows(Path(args.csv), rows)
    plot(rows, Path(args.plot))
    columns = len(SHOWN) + 1
    grid = [np.concatenate(strips[i : i + columns], 1) for i in range(0, len(strips), columns)]
    height = max(row.shape[0] for row in grid)
    grid = [np.pad(row, ((0, height - row.shape[0]), (0, 0), (0, 0))) for row in grid]
    _, encoded = cv2.imencode(Path(args.eyes).suffix, cv2.cvtColor(np.concatenate(grid, 0), cv2.COLOR_RGB2BGR))
    eyes = Path(args.eyes)
    eyes.with_name(f".{eyes.name}.tmp").write_bytes(encoded.tobytes())
    eyes.with_name(f".{eyes.name}.tmp").replace(eyes)
    print(f"Wrote {args.csv}, {args.plot} and {args.eyes}")


if __name__ == "__main__":
    main()
