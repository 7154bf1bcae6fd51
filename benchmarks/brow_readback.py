"""How much of a known brow move the landmark net reads back on an edited photo: the limit behind anger's
"brows together".

    python benchmarks/brow_readback.py [--pull 0.05] [--lower 0.06]

No geometry model is involved. On each development photo (:func:`hf_segan.photo_evaluation.development_photos`)
the brows alone are moved by a known amount, with the warp ``edit_photo`` uses
(:func:`hf_segan.photo_geometry.edit_face_geometry`): pulled toward the face's midline by ``--pull`` eye distances
at the inner end, fading to nothing at the outer end as SynthFaces draws AU4 (``render.brow_centerline``), and/or
lowered by ``--lower`` eye distances. The landmark net is then run again on the edit, in the face box found on the
original, as the real-photo evaluation does. Printed per photo and move: the change of ``inner_brow_distance`` and
``brow_height`` (:func:`hf_segan.metrics.expression_geometry.expression_measures`, eye distances) applied to the
landmarks, and read back by the net.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from hf_segan.alignment import find_faces
from hf_segan.expressions import expression_condition
from hf_segan.landmarks import LANDMARK_GROUPS, landmarks_in_box
from hf_segan.metrics.expression_geometry import expression_measures
from hf_segan.models.geometry import displacement_to_pixels, eye_frame
from hf_segan.photo_evaluation import development_photos, find_face
from hf_segan.photo_geometry import edit_face_geometry

#: Share of the pull at each brow point, inner end first: ``(1 - t) ** 2`` at t = 0, 0.25, ..., 1, as in SynthFaces.
PULL_PROFILE = (1 - np.linspace(0.0, 1.0, 5)) ** 2
MEASURES = ("inner_brow_distance", "brow_height")


class KnownBrowMove:
    """Stands in for the geometry model: moves only the brows, by a fixed amount in eye distances."""

    def __init__(self, pull: float, lower: float) -> None:
        self.pull, self.lower = pull, lower

    def predict_targets(self, points: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        displacement = torch.zeros_like(points, dtype=torch.float64)
        inner_first = {1.0: LANDMARK_GROUPS["left_brow"][::-1], -1.0: LANDMARK_GROUPS["right_brow"]}
        for toward_midline, brow in inner_first.items():
            for index, share in zip(brow, PULL_PROFILE, strict=True):
                displacement[:, index] = torch.tensor([toward_midline * self.pull * share, self.lower])
        return points.double() + displacement_to_pixels(displacement, eye_frame(points.double()))


def changes(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    first, second = expression_measures(before), expression_measures(after)
    return {name: second[name] - first[name] for name in MEASURES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pull", type=float, default=0.05, help="inner brow ends toward the midline, eye distances")
    parser.add_argument("--lower", type=float, default=0.06, help="brows down, eye distances")
    args = parser.parse_args()
    moves = {"pull": (args.pull, 0.0), "lower": (0.0, args.lower), "pull+lower": (args.pull, args.lower)}
    print("| photo | move | inner_brow_distance applied | read | brow_height applied | read |")
    print("|---|---|---|---|---|---|")
    totals = {name: np.zeros((2, 2)) for name in moves}
    condition = expression_condition("neutral")
    photos = development_photos()
    for photo in photos:
        box = find_face(photo).box
        face = find_faces(photo.rgb, faces="largest")[0][0]
        original = landmarks_in_box(photo.rgb, box)
        for name, (pull, lower) in moves.items():
            edit = edit_face_geometry(photo.rgb, face, KnownBrowMove(pull, lower), condition)
            applied = changes(edit.source, edit.target)
            read = changes(original, landmarks_in_box(edit.image, box))
            totals[name] += [[applied[m], read[m]] for m in MEASURES]
            cells = " | ".join(f"{applied[m]:+.3f} | {read[m]:+.3f}" for m in MEASURES)
            print(f"| {photo.name} | {name} | {cells} |", flush=True)
    count = len(photos)
    print("\nMeans (read back / applied):")
    for name, total in totals.items():
        mean = total / count
        shares = ", ".join(
            f"{m} {mean[i, 0]:+.3f} -> {mean[i, 1]:+.3f} ({mean[i, 1] / mean[i, 0]:.0%})"
            for i, m in enumerate(MEASURES)
            if abs(mean[i, 0]) > 1e-6
        )
        print(f"- {name}: {shares}")


if __name__ == "__main__":
    main()
