"""Where the time of one whole-photo edit goes: a per-stage breakdown of ``load_image`` + ``SeganPipeline.edit_photo``
+ ``save_image_atomic`` for photos of 1, 4, 12 and 24 megapixels, JPEG and PNG.

    python benchmarks/photo_latency.py [--threads N] [--repeats 3] [--sizes 1 4 12 24] [--targets happy ...]
        [--out benchmarks/results/photo_latency.csv]

The photos are made from the bundled example photo (scikit-image's astronaut, 512x512): resized to the photo's
height, widened to 4:3 by mirroring its outer edges (no second face), with a little Gaussian grain (sigma 3 grey
levels, fixed seed) so that they compress like camera photos rather than like smooth upscales. JPEG at quality 90,
PNG at Pillow's default compression. Each photo is edited toward each ``--targets`` expression (happy by default;
the targets that open the mouth, surprise and fear, also redraw its inside). The bundled model is loaded once,
before anything is timed; one untimed edit of a small photo warms it up.

Stages are timed inside the real ``edit_photo`` call: the public functions it calls are wrapped (for this process
only) with timers that count each call's own time, nested timed calls excluded, so the breakdown is exactly the
code a user runs and sums to the total:

* ``decode``: ``hf_segan.io.load_image`` (what the CLI and the Space call before ``edit_photo``);
* ``detect+landmarks``: face detection and the 68-point landmarks (``find_faces``: ``detect_face_boxes`` and
  ``landmarks_in_box``; or the Haar cascades of ``detect_faces`` for a model without a geometry component);
* ``align``: ``align_face_from_landmarks`` / ``align_face`` (the aligned crop the field or the editor works on);
* ``parse+edit``: the learned parser and editor on the crops (``SeganPipeline.__call__``), if the model uses them;
* ``geometry``: the geometry model, the displacement field and its mapping into photo pixels;
* ``remap/paste``: resampling the photo inside the face (``warp_photo``), the opened mouth's fill, or the learned
  edit's paste (``paste_face``);
* ``other``: the rest of ``edit_photo`` (argument checks, building the result image);
* ``encode``: ``save_image_atomic(..., like=loaded)`` into the source's format with its metadata.

Each stage's median and minimum wall-clock time over the repeats are printed and written (``statistic`` column),
and its minimum CPU time (``cpu min``, all threads of the process): on a machine shared with other work the
minimum is the nearest to the stage's own cost and the median shows what the load added, while the CPU time of a
run with one torch and one OpenCV thread (``--threads 1 --opencv-threads 1``) is what the edit costs on one idle
core, whatever the load (apart from caches and memory bandwidth, which the load shares).
The load average before and after the run, the torch and OpenCV thread counts, OpenMP's wait policy (``hf_segan``
makes idle threads sleep unless ``OMP_WAIT_POLICY`` is set: run with ``OMP_WAIT_POLICY=ACTIVE`` to compare) and
the CPU go into every row.

A second table times the PNG encode of the edited 12 MP photo at each zlib ``compress_level`` (all lossless), with
the file size, round-robin; ``hf_segan.io.PNG_COMPRESS_LEVEL`` is the level the library writes.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import cv2
import numpy as np
from PIL import Image
from results_csv import write_rows

import hf_segan  # before torch (cli_startup imports it): hf_segan sets OpenMP's wait policy as the CLI gets it

# isort: split
from cli_startup import EXAMPLE, cpu_name

STAGES = ("decode", "detect+landmarks", "align", "parse+edit", "geometry", "remap/paste", "other", "encode")

#: (module, attribute path, stage) of every function whose time is attributed to a stage; those missing from this
#: version of the library (another code path) are skipped.
TIMED_FUNCTIONS = (
    ("hf_segan.pipeline", "find_faces", "detect+landmarks"),
    ("hf_segan.pipeline", "landmarks_in_box", "detect+landmarks"),
    ("hf_segan.pipeline", "detect_faces", "detect+landmarks"),
    ("hf_segan.landmarks", "detect_face_boxes", "detect+landmarks"),
    ("hf_segan.landmarks", "landmarks_in_box", "detect+landmarks"),
    ("hf_segan.alignment", "detect_faces", "detect+landmarks"),
    ("hf_segan.pipeline", "align_face", "align"),
    ("hf_segan.pipeline", "align_face_from_landmarks", "align"),
    ("hf_segan.alignment", "align_face", "align"),
    ("hf_segan.alignment", "align_face_from_landmarks", "align"),
    ("hf_segan.pipeline", "SeganPipeline.__call__", "parse+edit"),
    ("hf_segan.models.geometry", "LandmarkGeometryModel.predict_targets", "geometry"),
    ("hf_segan.photo_geometry", "landmark_field", "geometry"),
    ("hf_segan.warp_field", "DisplacementField.min_jacobian", "geometry"),
    ("hf_segan.photo_geometry", "field_in_photo", "geometry"),
    ("hf_segan.photo_geometry", "warp_photo", "remap/paste"),
    ("hf_segan.photo_geometry", "fill_opened_mouth", "remap/paste"),
    ("hf_segan.pipeline", "paste_face", "remap/paste"),
)


class StageClock:
    """Exclusive seconds per stage, wall-clock (``seconds``) and CPU time of the process, all its threads
    (``cpu_seconds``): the time of a timed call nested in another is counted for the inner one only."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu_seconds: dict[str, float] = defaultdict(float)
        self._nested: list[list[float]] = []

    @contextlib.contextmanager
    def stage(self, stage: str) -> Iterator[None]:
        self._nested.append([0.0, 0.0])
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            nested, cpu_nested = self._nested.pop()
            self.seconds[stage] += elapsed - nested
            self.cpu_seconds[stage] += cpu - cpu_nested
            if self._nested:
                self._nested[-1][0] += elapsed
                self._nested[-1][1] += cpu

    def wrap(self, function, stage: str):
        def timed(*args, **kwargs):
            with self.stage(stage):
                return function(*args, **kwargs)

        return timed


@contextlib.contextmanager
def stage_timers(clock: StageClock) -> Iterator[None]:
    """Every function of :data:`TIMED_FUNCTIONS` that exists wrapped with ``clock``, for the block only."""
    with contextlib.ExitStack() as stack:
        for module_name, attribute_path, stage in TIMED_FUNCTIONS:
            owner_path, _, attribute = attribute_path.rpartition(".")
            try:
                owner = importlib.import_module(module_name)
                for part in filter(None, owner_path.split(".")):
                    owner = getattr(owner, part)
                function = getattr(owner, attribute)
            except (ImportError, AttributeError):
                continue
            stack.enter_context(mock.patch.object(owner, attribute, clock.wrap(function, stage)))
        yield


def make_photo(megapixels: float, seed: int = 0) -> np.ndarray:
    """A 4:3 RGB photo of about ``megapixels`` showing the example face (see the module docstring)."""
    source = np.asarray(Image.open(EXAMPLE).convert("RGB"))
    height = round((megapixels * 1e6 * 3 / 4) ** 0.5)
    square = cv2.resize(source, (height, height), interpolation=cv2.INTER_CUBIC)
    side = (round(height * 4 / 3) - height) // 2
    photo = cv2.copyMakeBorder(square, 0, 0, side, side, cv2.BORDER_REFLECT_101)
    grain = np.random.default_rng(seed).normal(0.0, 3.0, photo.shape).astype(np.float32)
    return np.clip(photo + grain, 0, 255).astype(np.uint8)


def time_edit(pipe, path: Path, target: str, out_dir: Path) -> dict[str, dict[str, float]]:
    """``{"wall": ..., "cpu": ...}`` seconds per stage (and in total) of one load + edit toward ``target`` + save of
    ``path``."""
    from hf_segan.io import load_image, save_image_atomic

    clock = StageClock()
    start, cpu_start = time.perf_counter(), time.process_time()
    with stage_timers(clock):
        with clock.stage("decode"):
            loaded = load_image(path)
        with clock.stage("other"):
            result = pipe.edit_photo(loaded, target)
        with clock.stage("encode"):
            save_image_atomic(result.image, out_dir / f"edited{path.suffix}", like=loaded)
    wall, cpu = dict(clock.seconds), dict(clock.cpu_seconds)
    wall["total"], cpu["total"] = time.perf_counter() - start, time.process_time() - cpu_start
    return {"wall": wall, "cpu": cpu}


def png_levels(image: Image.Image, repeats: int) -> list[dict[str, float]]:
    """Seconds and bytes of a PNG encode of ``image`` at each zlib level, timed round-robin."""
    levels = (0, 1, 3, 6, 9)
    times: dict[int, list[float]] = {level: [] for level in levels}
    sizes = {}
    for _ in range(repeats):
        for level in levels:
            buffer = io.BytesIO()
            start = time.perf_counter()
            image.save(buffer, format="PNG", compress_level=level)
            times[level].append(time.perf_counter() - start)
            sizes[level] = buffer.tell()
    return [
        {"compress_level": level, "seconds": statistics.median(times[level]), "megabytes": sizes[level] / 1e6}
        for level in levels
    ]


def summarise(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """The median and the minimum wall-clock seconds of every stage (and the total) over ``runs``, and the minimum
    CPU seconds (``cpu min``: all the process's threads; with one torch and one OpenCV thread, what the work costs
    on one idle core however loaded the machine is, apart from shared caches and memory bandwidth)."""
    keys = (*STAGES, "total")

    def over_runs(clock: str, statistic) -> dict[str, float]:
        return {key: statistic([run[clock].get(key, 0.0) for run in runs]) for key in keys}

    return {
        "median": over_runs("wall", statistics.median),
        "min": over_runs("wall", min),
        "cpu min": over_runs("cpu", min),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 4, 12, 24], help="megapixels")
    parser.add_argument("--targets", nargs="+", default=["happy"], help="expressions to edit toward")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    parser.add_argument("--opencv-threads", type=int, help="OpenCV threads (default: OpenCV's own)")
    parser.add_argument(
        "--png-levels", action=argparse.BooleanOptionalAction, default=True, help="time the PNG levels' table"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/photo_latency.csv"))
    args = parser.parse_args()

    import torch

    from hf_segan.io import PNG_COMPRESS_LEVEL
    from hf_segan.pipeline import SeganPipeline, default_model_path

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.opencv_threads:
        cv2.setNumThreads(args.opencv_threads)
    pipe = SeganPipeline.from_pretrained(default_model_path())
    load_before = os.getloadavg()[0]
    machine = {
        "cpu": cpu_name(),
        "torch_threads": torch.get_num_threads(),
        "opencv_threads": cv2.getNumThreads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset"),
    }
    print(
        f"CPU: {machine['cpu']}, {machine['torch_threads']} torch threads, {machine['opencv_threads']} OpenCV threads, "
        f"OMP_WAIT_POLICY {machine['omp_wait_policy']} (hf_segan {hf_segan.__version__}); bundled model; median and "
        f"minimum of {args.repeats}; load average {load_before:.1f}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        pipe.edit_photo(make_photo(0.3), "happy")  # warm-up: lazy model loads, first-call allocations
        photos = []
        for megapixels in args.sizes:
            rgb = make_photo(megapixels)
            for fmt, options in (("jpg", {"quality": 90}), ("png", {})):
                path = folder / f"photo_{megapixels:g}mp.{fmt}"
                Image.fromarray(rgb).save(path, **options)
                photos.append((megapixels, fmt, path, rgb.shape))
        # round-robin over the photos, so a change of load affects every row alike
        runs: dict[tuple[Path, str], list[dict[str, dict[str, float]]]] = defaultdict(list)
        for _ in range(args.repeats):
            for _, _, path, _ in photos:
                for target in args.targets:
                    runs[path, target].append(time_edit(pipe, path, target, folder))
        header = f"{'photo':>22} {'target':>8} {'':>7} " + " ".join(f"{stage:>16}" for stage in (*STAGES, "total"))
        print(header)
        for megapixels, fmt, path, shape in photos:
            name = f"{shape[1]}x{shape[0]} {fmt.upper()}"
            for target in args.targets:
                for statistic, seconds in summarise(runs[path, target]).items():
                    line = " ".join(f"{seconds[key] * 1e3:13.0f} ms" for key in (*STAGES, "total"))
                    print(f"{name:>22} {target:>8} {statistic:>7} {line}")
                    row = {"photo": name, "megapixels": megapixels, "format": fmt, "target": target}
                    rows.append(row | {"statistic": statistic} | seconds)

        if args.png_levels:
            edited = pipe.edit_photo(make_photo(12), "happy").image
            print(f"\nPNG encode of the edited {edited.width}x{edited.height} photo (library: {PNG_COMPRESS_LEVEL})")
            for level in png_levels(edited, args.repeats):
                seconds, megabytes = level["seconds"], level["megabytes"]
                print(f"compress_level {level['compress_level']}: {seconds:.2f} s, {megabytes:.1f} MB")
                name = f"PNG encode level {level['compress_level']}"
                rows.append({"photo": name, "statistic": "median", "encode": seconds, "megabytes": megabytes})
    machine["load_before"], machine["load_after"] = load_before, os.getloadavg()[0]
    print(f"load average after the run: {machine['load_after']:.1f}")
    fields = ["photo", "megapixels", "format", "target", "statistic", *STAGES, "total", "megabytes", *machine]
    rounded = [
        {key: round(value, 4) if isinstance(value, float) else value for key, value in (row | machine).items()}
        for row in rows
    ]
    write_rows(args.out, rounded, fields)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
