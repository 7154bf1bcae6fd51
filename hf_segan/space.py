"""The Gradio demo: upload a photo, pick an expression, see the edit, the parsing and what the edit changed.

:func:`build_demo` wires a :class:`SeganPipeline` into a ``gr.Blocks`` page; ``spaces/app.py`` (the Hugging
Face Space) and ``hf-segan space`` both launch it through :func:`launch_demo`, which adds the upload limit.

Uploads come in through a ``gr.File`` (``gr.Image`` would decode them with PIL before any handler runs) and
are decoded by :func:`hf_segan.io.load_image`, so a non-image, a truncated file or a decompression bomb becomes a
readable ``gr.Error`` instead of a PIL traceback, and the server keeps serving. Work is cached per (image
content, settings): the "all expressions" gallery reuses the edit already shown, and the face is found (once: the
same found face is aligned for the views, parsed and edited) and the photo parsed once per uploaded photo.

The page shows what :meth:`SeganPipeline.edit_photo` and :meth:`SeganPipeline.parse_photo` give for the photo, not
a separate run of the models on an aligned crop: the face is found by :func:`hf_segan.alignment.find_faces`
(landmarks, Haar only as a fallback, with its note), the parsing view is ``parse_photo``'s (landmark masks for a
model whose editor saw only synthetic faces), and the "what changed" view is the per-pixel difference between the
upload and the edited photo.

Everything a public server needs is bounded: one concurrency group shared by every model-running event (so
:data:`CONCURRENCY_LIMIT` holds for the whole app, not per button), a queue of :data:`QUEUE_SIZE`, caches sized in
bytes (a 50 MP photo weighs as much as a hundred small ones) and temporary files deleted after
:data:`TEMP_FILE_LIFETIME_S`. Result images are written by :class:`ResultWriter` under names no other request
uses, never by Gradio's content-addressed cache, where identical results of two requests share one path and
one request rewrote the file while another client was downloading it.
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import cv2
import gradio as gr
import numpy as np
import torch
from PIL import Image

from .alignment import AlignedFace, FoundFace, align_found_faces, detect_faces, locate_faces
from .constants import EXPRESSIONS, FACE_PARSING_CLASSES, GLASSES_CHOICES, PARSING_PALETTE
from .io import MAX_PIXELS, LoadedImage, load_image, save_image_atomic
from .pipeline import PhotoParseResult, SeganPipeline, default_model_path

#: Uploads larger than this are refused by the server before any handler runs.
MAX_UPLOAD_SIZE = "10mb"
#: Requests that run the model at once, all events together; more wait in the queue (memory is the limit on a
#: CPU Space: a photo near the :data:`~hf_segan.io.MAX_PIXELS` bound is held in several full-size copies while
#: it is edited).
CONCURRENCY_LIMIT = 2
#: The one concurrency group of every event that decodes photos or runs the model.
CONCURRENCY_ID = "model"
#: Requests that may wait in the queue; beyond that Gradio tells the visitor the queue is full.
QUEUE_SIZE = 32
#: Bytes of decoded photos, and bytes of edited photos and maps, kept in memory for reuse (each cache).
CACHE_BYTES = 256 * 2**20
#: Uploads and result files are deleted this many seconds after they were written (checked every tenth of it).
TEMP_FILE_LIFETIME_S = 1800
#: Height (pixels) the face views (parsing, what changed) are shown at.
DISPLAY_SIDE = 256
EXAMPLES_DIR = Path(__file__).parent / "assets" / "examples"
EXAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
SPACE_DEFAULT_MODEL_NOTICE = (
    "Model: the small default model bundled with `hf_segan` (see its model card). To serve another model, set the "
    "Space variable `HF_SEGAN_MODEL` to a SeganPipeline folder or hub id."
)

T = TypeVar("T")


class LRUCache:
    """A thread-safe least-recently-used cache bounded by the bytes of its values, not their number: photos range
    from a few kB to hundreds of MB, so a count bound is either useless or wasteful.

    Args:
        max_bytes: the most bytes kept; a value larger than that alone is returned but not kept.
        size_of: the bytes one value holds.
    """

    def __init__(self, max_bytes: int, size_of: Callable[[Any], int]) -> None:
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, got {max_bytes}.")
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        value = compute()  # outside the lock: two different photos are edited in parallel
        size = self._size_of(value)
        if size > self.max_bytes:
            return value
        with self._lock:
            if key in self._items:  # computed meanwhile by another request: keep one copy
                self._bytes -= self._items.pop(key)[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._bytes -= self._items.popitem(last=False)[1][1]
        return value

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class PreparedPhoto:
    """A decoded upload, its largest face (as :func:`~hf_segan.alignment.find_faces` aligns it to the model's
    crop), the notes of finding it, the photo's parsing as :meth:`SeganPipeline.parse_photo` gives it, and the
    faces to hand to :meth:`SeganPipeline.edit_photo` so that it finds none again."""

    image: LoadedImage
    face: AlignedFace
    face_notes: tuple[str, ...]
    parsing: PhotoParseResult
    edit_faces: tuple[FoundFace, ...]

    @property
    def notes(self) -> list[str]:
        """What the user should know about reading the photo, finding its face and parsing it."""
        return [*self.image.notes, *self.face_notes, *self.parsing.notes]

    @property
    def region(self) -> tuple[slice, slice]:
        """The face region the views show: the part of the photo the aligned crop covers."""
        return face_region(self.face, self.image.rgb.shape[:2])

    @property
    def rgba_or_rgb(self) -> np.ndarray:
        rgb, alpha = self.image.rgb, self.image.alpha
        return rgb if alpha is None else np.dstack([rgb, alpha])

    @property
    def original(self) -> Image.Image:
        return Image.fromarray(self.rgba_or_rgb)

    @property
    def nbytes(self) -> int:
        alpha = self.image.alpha
        return self.image.rgb.nbytes + (0 if alpha is None else alpha.nbytes) + self.parsing.labels.nbytes


@dataclass(frozen=True)
class SpaceEdit:
    """Everything one edit shows: the edited photo, the heat map of its change over the face region (see
    :func:`change_heatmap`), and the edit's notes."""

    photo: Image.Image
    change: np.ndarray
    notes: tuple[str, ...] = ()

    @property
    def nbytes(self) -> int:
        photo_bytes = self.photo.width * self.photo.height * len(self.photo.getbands())
        return photo_bytes + self.change.nbytes


class SpaceEditor:
    """The demo's model calls, with user errors as ``gr.Error`` and results cached per (photo bytes, settings).

    Args:
        pipe: the pipeline to run (already on its device).
        cache_bytes: the byte bound of each cache (decoded photos; edits).
    """

    def __init__(self, pipe: SeganPipeline, cache_bytes: int = CACHE_BYTES) -> None:
        self.pipe = pipe
        self.region_names: list[str] = list(pipe.editor.region_names)
        self._photos: LRUCache = LRUCache(cache_bytes, lambda photo: photo.nbytes)
        self._edits: LRUCache = LRUCache(cache_bytes, lambda edit: edit.nbytes)

    def prepare(self, path: str | None) -> tuple[str, PreparedPhoto]:
        """(content hash, decoded photo with its face), or a ``gr.Error`` saying what is wrong with the upload."""
        if not path:
            raise gr.Error("Upload a photo (or pick an example) first.")
        digest = _file_digest(path)
        return digest, self._photos.get_or_compute(digest, lambda: self._prepare(path))

    def _prepare(self, path: str) -> PreparedPhoto:
        name = Path(path).name
        try:
            image = load_image(path, downscale=False)  # the page promises the photo back at its own size
            # Found once, then aligned for each use as find_faces would: the views' crop, the parsing, the edits.
            found, face_notes = locate_faces(image.rgb, faces="largest")
            if not found:
                raise ValueError(f"no face found in {name}; upload a photo with a frontal face.")
            face = align_found_faces(image.rgb, found, size=self.pipe.config.resolution)[0]
            parsing = self.pipe.parse_photo(image.rgb, faces=found)
        except ValueError as error:
            # Uploads live at server temp paths: show the user their file's name instead.
            raise gr.Error(str(error).replace(path, name)) from error
        return PreparedPhoto(
            image=image,
            face=face,
            face_notes=tuple(face_notes),
            parsing=parsing,
            edit_faces=self._edit_faces(image.rgb, found),
        )

    def _edit_faces(self, rgb: np.ndarray, found: list[FoundFace]) -> tuple[FoundFace, ...]:
        """The faces ``edit_photo`` would find itself: with a geometry component the faces found with landmarks
        (its own detection is that of ``find_faces``); without one the largest Haar box, which is what its learned
        path aligns (found here once per photo, not once per edit)."""
        if self.pipe.geometry is not None:
            return tuple(found)
        boxes = detect_faces(rgb)
        return (max(boxes, key=lambda box: box.area),) if boxes else ()

    def edit(
        self, path: str | None, expression: str, intensity: float, regions: list[str] | None, glasses: str = "auto"
    ) -> tuple[PreparedPhoto, SpaceEdit]:
        """The photo and its edit toward ``expression``; ``regions`` are the region groups allowed to change,
        ``glasses`` one of :data:`GLASSES_CHOICES`."""
        allowed = self._check_settings(expression, intensity, regions, glasses)
        digest, prepared = self.prepare(path)
        return prepared, self._cached_edit(digest, prepared, expression, float(intensity), allowed, glasses)

    def all_expressions(
        self, path: str | None, intensity: float, regions: list[str] | None, glasses: str = "auto"
    ) -> tuple[PreparedPhoto, list[tuple[SpaceEdit, str]]]:
        """The photo and one edit per expression, named; the photo is decoded once even when too big to cache."""
        allowed = self._check_settings(EXPRESSIONS[0], intensity, regions, glasses)
        digest, prepared = self.prepare(path)
        edits = [
            (self._cached_edit(digest, prepared, name, float(intensity), allowed, glasses), name)
            for name in EXPRESSIONS
        ]
        return prepared, edits

    def _cached_edit(
        self,
        digest: str,
        prepared: PreparedPhoto,
        expression: str,
        intensity: float,
        allowed: tuple[str, ...] | None,
        glasses: str,
    ) -> SpaceEdit:
        key = (digest, expression, round(intensity, 4), allowed, glasses)
        return self._edits.get_or_compute(key, lambda: self._edit(prepared, expression, intensity, allowed, glasses))

    def _check_settings(
        self, expression: str, intensity: float, regions: list[str] | None, glasses: str
    ) -> tuple[str, ...] | None:
        if glasses not in GLASSES_CHOICES:
            raise gr.Error(f"Glasses must be one of {', '.join(GLASSES_CHOICES)}, got {glasses!r}.")
        if expression not in EXPRESSIONS:
            raise gr.Error(f"Unknown expression {expression!r}; choose one of {', '.join(EXPRESSIONS)}.")
        if intensity is None or not 0.0 <= float(intensity) <= 1.0:
            raise gr.Error(f"Intensity must be between 0 and 1, got {intensity}.")
        if regions is None or set(regions) >= set(self.region_names):
            return None  # every region may change: the unrestricted edit
        if not regions:
            raise gr.Error("Tick at least one region that may change.")
        unknown = sorted(set(regions) - set(self.region_names))
        if unknown:
            raise gr.Error(f"Unknown region(s) {unknown}; choose from {', '.join(self.region_names)}.")
        return tuple(sorted(regions))

    def _edit(
        self,
        prepared: PreparedPhoto,
        expression: str,
        intensity: float,
        regions: tuple[str, ...] | None,
        glasses: str,
    ) -> SpaceEdit:
        regions_arg = list(regions) if regions is not None else None
        try:
            photo = self.pipe.edit_photo(
                prepared.rgba_or_rgb,
                expression,
                intensity,
                regions_arg,
                faces=list(prepared.edit_faces),
                glasses=GLASSES_CHOICES[glasses],
            )
        except ValueError as error:
            raise gr.Error(str(error)) from error
        edited = np.asarray(photo.image.convert("RGB"))
        region = prepared.region
        return SpaceEdit(
            photo=photo.image,
            change=change_heatmap(prepared.image.rgb[region], edited[region]),
            notes=tuple(photo.notes),
        )


class ResultWriter:
    """Writes each result image once, as PNG, under a name no other request uses, inside Gradio's cache folder
    (so Gradio serves it as it is, and deletes it with its other temporary files).

    Gradio's own writer names a result by its content and rewrites that file whenever a request produces the same
    image, truncating it under a client that is downloading it; a unique name that is complete before any client
    learns it cannot be read half-written.
    """

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder) / "hf_segan_results"

    def png(self, image: Image.Image | np.ndarray, name: str) -> str:
        return str(save_image_atomic(image, self.folder / f"{uuid.uuid4().hex}-{name}.png"))


def notes_markdown(notes: list[str] | tuple[str, ...], source: str) -> str:
    """Notes on how the photo was read or edited, shown beside the result (a toast vanishes before it arrives);
    server paths replaced by the upload's file name."""
    unique = dict.fromkeys(note.replace(source, Path(source).name) for note in notes)
    return "\n".join(f"- **Note:** {note}" for note in unique)


def _file_digest(path: str) -> str:
    try:
        with open(path, "rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    except OSError as error:
        raise gr.Error(f"The upload {Path(path).name} cannot be read ({error.strerror}); upload it again.") from error


def parsing_legend(labels: np.ndarray) -> list[tuple[str, str]]:
    """``gr.HighlightedText`` entries naming each parsing class present (background left out), in class order."""
    return [(FACE_PARSING_CLASSES[label], FACE_PARSING_CLASSES[label]) for label in np.unique(labels) if label != 0]


def parsing_color_map() -> dict[str, str]:
    """The package's parsing palette as the hex colours ``gr.HighlightedText`` takes, keyed by class name."""
    return {
        name: "#{:02x}{:02x}{:02x}".format(*rgb)
        for name, rgb in zip(FACE_PARSING_CLASSES, PARSING_PALETTE, strict=True)
    }


def face_region(face: AlignedFace, shape: tuple[int, int]) -> tuple[slice, slice]:
    """(rows, columns) of the photo's axis-aligned rectangle around the area ``face``'s aligned crop covers (its
    corners mapped back to the photo), clipped to the photo of ``shape`` (height, width). The geometry edit builds
    its field on that crop, so every pixel it moves lies inside."""
    side = face.size
    corners = np.array([[0, 0], [side, 0], [0, side], [side, side]], np.float64)
    points = corners @ face.inverse[:, :2].T + face.inverse[:, 2]
    (x0, y0), (x1, y1) = np.floor(points.min(axis=0)), np.ceil(points.max(axis=0))
    height, width = shape
    rows = slice(int(np.clip(y0, 0, height)), int(np.clip(y1, 0, height)))
    columns = slice(int(np.clip(x0, 0, width)), int(np.clip(x1, 0, width)))
    return rows, columns


def change_heatmap(original: np.ndarray, edited: np.ndarray) -> np.ndarray:
    """The per-pixel change from ``original`` to ``edited`` (same-shape RGB uint8) as an RGB heat map: the largest
    channel difference of each pixel, scaled so the largest change of the region is brightest (inferno colours);
    pixels the edit left byte-identical are pure black."""
    difference = np.abs(edited.astype(np.int16) - original.astype(np.int16)).max(axis=2)
    heat = np.zeros((*difference.shape, 3), np.uint8)
    largest = int(difference.max()) if difference.size else 0
    if largest == 0:
        return heat
    scaled = np.rint(difference * (255.0 / largest)).astype(np.uint8)
    colours = cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    changed = difference > 0
    heat[changed] = colours[changed]
    return heat


def resolve_device(device: str | None) -> str:
    """``device`` as given, else CUDA when available, else CPU."""
    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def load_space_pipeline(source: str | os.PathLike | None) -> tuple[SeganPipeline, str]:
    """The pipeline at ``source`` (folder or hub id), or the bundled default; with the provenance to display."""
    if source is None:
        path = default_model_path()
        if not (path / "model_index.json").is_file():
            raise ValueError(
                f"The bundled default model is missing ({path}); pass a SeganPipeline folder or hub id "
                "(HF_SEGAN_MODEL for the Space, --model for hf-segan space)."
            )
        return SeganPipeline.from_pretrained(path), SPACE_DEFAULT_MODEL_NOTICE
    return SeganPipeline.from_pretrained(source), f"Model: `{source}`."


def example_photos(folder: Path = EXAMPLES_DIR) -> list[str]:
    """The bundled example photos (none when the folder is absent)."""
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in EXAMPLE_SUFFIXES and p.is_file())


def limits_markdown() -> str:
    """The limits the server enforces, as the page states them (read from the constants that set them)."""
    return (
        f"**Limits.** Uploads up to {MAX_UPLOAD_SIZE.upper().replace('MB', ' MB')}, photos up to "
        f"{MAX_PIXELS / 1e6:.0f} megapixels, edited and returned at their own size. At most {CONCURRENCY_LIMIT} "
        f"requests run the model at once for all visitors together, up to {QUEUE_SIZE} more wait in the queue "
        f"(beyond that, try again later). Recent photos and edits are kept in memory for reuse (up to "
        f"{2 * CACHE_BYTES // 2**20} MB); uploads and results are deleted from the server after "
        f"{TEMP_FILE_LIFETIME_S // 60} minutes."
    )


def build_demo(
    pipe_or_path: SeganPipeline | str | os.PathLike | None = None,
    device: str | None = None,
    provenance: str | None = None,
    temp_file_lifetime_s: int = TEMP_FILE_LIFETIME_S,
) -> gr.Blocks:
    """The demo page, queued (see the module docstring for its bounds) and ready to launch.

    Args:
        pipe_or_path: a loaded pipeline, a pipeline folder / hub id, or ``None`` for the bundled default model.
        device: torch device; ``None`` picks CUDA when available, else CPU.
        provenance: where the model comes from, shown on the page (derived from ``pipe_or_path`` when omitted).
        temp_file_lifetime_s: seconds after which uploads and results are deleted from disk.
    """
    if isinstance(pipe_or_path, SeganPipeline):
        pipe, found = pipe_or_path, "Model: a SeganPipeline passed to `build_demo`."
    else:
        pipe, found = load_space_pipeline(pipe_or_path)
    editor = SpaceEditor(pipe.to(resolve_device(device)))
    cleanup = (max(1, temp_file_lifetime_s // 10), temp_file_lifetime_s)

    with gr.Blocks(title="hf_segan: facial expression editing", delete_cache=cleanup) as demo:
        writer = ResultWriter(demo.GRADIO_CACHE)

        def edit(path: str | None, expression: str, intensity: float, regions: list[str], glasses: str = "auto"):
            prepared, result = editor.edit(path, expression, intensity, regions, glasses)
            edited_path = writer.png(result.photo, "edited")
            region = prepared.region
            labels = prepared.parsing.labels[region]
            return (
                edited_path,
                (writer.png(prepared.original, "original"), edited_path),
                writer.png(SeganPipeline.overlay(prepared.image.rgb[region], labels), "parsing"),
                parsing_legend(labels),
                writer.png(result.change, "change"),
                notes_markdown([*prepared.notes, *result.notes], prepared.image.source),
            )

        def all_expressions(path: str | None, intensity: float, regions: list[str], glasses: str = "auto"):
            prepared, edits = editor.all_expressions(path, intensity, regions, glasses)
            notes = [note for result, _ in edits for note in result.notes]
            gallery = [(writer.png(result.photo, name), name) for result, name in edits]
            return gallery, notes_markdown([*prepared.notes, *notes], prepared.image.source)

        def show_upload(path: str | None) -> str | None:
            return writer.png(editor.prepare(path)[1].original, "upload") if path else None

        gr.Markdown(
            "# Facial expression editing with face parsing + hierarchical GANs\n"
            "Upload a photo with a face, choose an expression and which regions may change. The face's landmarks "
            "are found, the face is parsed into regions and edited; only the face changes, the rest of the photo "
            "is untouched."
        )
        gr.Markdown(provenance or found)
        gr.Markdown(limits_markdown(), elem_id="limits")
        with gr.Row():
            with gr.Column():
                photo = gr.File(label="Photo", file_types=["image"], type="filepath", elem_id="photo")
                preview = gr.Image(label="Uploaded photo", interactive=False, elem_id="preview")
                expression = gr.Dropdown(list(EXPRESSIONS), value="happy", label="Target expression")
                intensity = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Intensity (0 = neutral)")
                regions = gr.CheckboxGroup(
                    editor.region_names,
                    value=editor.region_names,
                    label="Regions that may change",
                    info="All ticked: the whole face may change. Otherwise only the ticked regions do.",
                )
                glasses = gr.Radio(
                    list(GLASSES_CHOICES),
                    value="auto",
                    label="Glasses",
                    info="The landmarks put the brows of a face with glasses on the frame, so the frame is held still "
                    "and the brows move above it. auto: found from the photo; no: move the landmarks' brows (thin "
                    "frames).",
                )
                with gr.Row():
                    edit_button = gr.Button("Edit expression", variant="primary", elem_id="edit-button")
                    gallery_button = gr.Button("Show all expressions")
                examples = example_photos()
                if examples:
                    gr.Examples(examples, inputs=[photo])
            with gr.Column():
                edited = gr.Image(label="Edited photo", elem_id="edited")
                notes = gr.Markdown(elem_id="notes")
                comparison = gr.ImageSlider(label="Before / after")
        with gr.Row():
            with gr.Column():
                parsing = gr.Image(label="Face parsing (face region of the photo)", height=DISPLAY_SIDE + 64)
                legend = gr.HighlightedText(label="Classes found", color_map=parsing_color_map(), show_legend=False)
            change = gr.Image(
                label="What changed (black = untouched, brightest = largest change)",
                height=DISPLAY_SIDE + 64,
                elem_id="change",
            )
        gallery = gr.Gallery(label="Every expression", columns=4)

        # Every event that decodes photos or runs the model shares one concurrency group: the limit is per app.
        shared = {"concurrency_id": CONCURRENCY_ID, "concurrency_limit": CONCURRENCY_LIMIT}
        # decoding and face detection run (and fail, with their message) as soon as a photo arrives
        photo.change(show_upload, photo, preview, api_name=False, **shared)
        inputs = [photo, expression, intensity, regions, glasses]
        outputs = [edited, comparison, parsing, legend, change, notes]
        edit_button.click(edit, inputs, outputs, api_name="edit", **shared)
        gallery_button.click(
            all_expressions,
            [photo, intensity, regions, glasses],
            [gallery, notes],
            api_name="all_expressions",
            **shared,
        )
    demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=CONCURRENCY_LIMIT)
    return demo


def launch_demo(demo: gr.Blocks, **launch_kwargs: Any) -> tuple[Any, str, str]:
    """``demo.launch`` with the upload size limit of :data:`MAX_UPLOAD_SIZE` unless given otherwise."""
    launch_kwargs.setdefault("max_file_size", MAX_UPLOAD_SIZE)
    return demo.launch(**launch_kwargs)
