"""The Gradio demo: upload a photo, pick an expression, see the edit and what explains it.

:func:`build_demo` wires a :class:`SeganPipeline` into a ``gr.Blocks`` page; ``spaces/app.py`` (the Hugging
Face Space) and ``hf-segan space`` both launch it through :func:`launch_demo`, which adds the upload limit.

Uploads come in through a ``gr.File`` (``gr.Image`` would decode them with PIL before any handler runs) and
are decoded by :func:`hf_segan.io.load_image`, so a non-image, a truncated file or a decompression bomb becomes a
readable ``gr.Error`` instead of a PIL traceback, and the server keeps serving. Work is cached per (image
content, settings): the "all expressions" gallery reuses the edit already shown, and face detection runs once
per uploaded photo.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import gradio as gr
import numpy as np
import torch
from PIL import Image

from .alignment import AlignedFace, FaceBox, align_face, detect_faces
from .constants import EXPRESSIONS, FACE_PARSING_CLASSES, PARSING_PALETTE
from .io import LoadedImage, load_image
from .pipeline import DEFAULT_MODEL_NOTICE, SeganPipeline, default_model_path

#: Uploads larger than this are refused by the server before any handler runs.
MAX_UPLOAD_SIZE = "10mb"
#: Requests processed at once; more wait in the queue (the models are small, memory is the limit on a CPU Space).
CONCURRENCY_LIMIT = 2
#: Side (pixels) the aligned-crop views are shown at.
DISPLAY_SIDE = 256
EXAMPLES_DIR = Path(__file__).parent / "assets" / "examples"
EXAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")

T = TypeVar("T")


class LRUCache:
    """A small thread-safe least-recently-used cache (the queue runs ``CONCURRENCY_LIMIT`` handlers at once)."""

    def __init__(self, max_size: int) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size}.")
        self.max_size = max_size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()  # outside the lock: two different photos are edited in parallel
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_size:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class PreparedPhoto:
    """A decoded upload and its largest face, aligned to the model's crop."""

    image: LoadedImage
    box: FaceBox
    aligned: AlignedFace

    @property
    def rgba_or_rgb(self) -> np.ndarray:
        rgb, alpha = self.image.rgb, self.image.alpha
        return rgb if alpha is None else np.dstack([rgb, alpha])

    @property
    def original(self) -> Image.Image:
        return Image.fromarray(self.rgba_or_rgb)


@dataclass(frozen=True)
class SpaceEdit:
    """Everything one edit shows: the edited photo, and the parsing and attention of the aligned crop."""

    photo: Image.Image
    parsing: np.ndarray
    attention: np.ndarray


class SpaceEditor:
    """The demo's model calls, with user errors as ``gr.Error`` and results cached per (photo bytes, settings).

    Args:
        pipe: the pipeline to run (already on its device).
        cache_size: edits kept; enough for the gallery of every expression of a few photos.
    """

    def __init__(self, pipe: SeganPipeline, cache_size: int = 4 * len(EXPRESSIONS)) -> None:
        self.pipe = pipe
        self.region_names: list[str] = list(pipe.editor.region_names)
        self._photos: LRUCache = LRUCache(8)
        self._edits: LRUCache = LRUCache(cache_size)

    def prepare(self, path: str | None) -> tuple[str, PreparedPhoto]:
        """(content hash, decoded photo with its face), or a ``gr.Error`` saying what is wrong with the upload."""
        if not path:
            raise gr.Error("Upload a photo (or pick an example) first.")
        digest = _file_digest(path)
        return digest, self._photos.get_or_compute(digest, lambda: self._prepare(path))

    def _prepare(self, path: str) -> PreparedPhoto:
        name = Path(path).name
        try:
            image = load_image(path)
            boxes = detect_faces(image.rgb)
            if not boxes:
                raise ValueError(f"no face found in {name}; upload a photo with a frontal face.")
            box = max(boxes, key=lambda b: b.area)
            aligned = align_face(image.rgb, box, size=self.pipe.config.resolution)
        except ValueError as error:
            # Uploads live at server temp paths: show the user their file's name instead.
            raise gr.Error(str(error).replace(path, name)) from error
        return PreparedPhoto(image=image, box=box, aligned=aligned)

    def edit(
        self, path: str | None, expression: str, intensity: float, regions: list[str] | None
    ) -> tuple[PreparedPhoto, SpaceEdit]:
        """The photo and its edit toward ``expression``; ``regions`` are the region groups allowed to change."""
        allowed = self._check_settings(expression, intensity, regions)
        digest, prepared = self.prepare(path)
        key = (digest, expression, round(float(intensity), 4), allowed)
        return prepared, self._edits.get_or_compute(
            key, lambda: self._edit(prepared, expression, float(intensity), allowed)
        )

    def _check_settings(self, expression: str, intensity: float, regions: list[str] | None) -> tuple[str, ...] | None:
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
        self, prepared: PreparedPhoto, expression: str, intensity: float, regions: tuple[str, ...] | None
    ) -> SpaceEdit:
        regions_arg = list(regions) if regions is not None else None
        try:
            photo = self.pipe.edit_photo(prepared.rgba_or_rgb, expression, intensity, regions_arg, box=prepared.box)
            # the same edit of the aligned crop alone, for its parsing and attention maps
            maps = self.pipe(prepared.aligned.crop, expression, intensity, regions_arg, output_type="np")
        except ValueError as error:
            raise gr.Error(str(error)) from error
        return SpaceEdit(photo=photo.image, parsing=maps.parsing[0], attention=maps.attention[0])

    def all_expressions(
        self, path: str | None, intensity: float, regions: list[str] | None
    ) -> list[tuple[Image.Image, str]]:
        """One edited photo per expression, captioned with its name."""
        return [(self.edit(path, name, intensity, regions)[1].photo, name) for name in EXPRESSIONS]


def _file_digest(path: str) -> str:
    try:
        with open(path, "rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    except OSError as error:
        raise gr.Error(f"The upload {Path(path).name} cannot be read ({error.strerror}); upload it again.") from error


def parsing_annotations(labels: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """``gr.AnnotatedImage`` annotations: one 0/1 mask per parsing class present, background left out."""
    present = [int(label) for label in np.unique(labels) if label != 0]
    return [((labels == label).astype(np.float32), FACE_PARSING_CLASSES[label]) for label in present]


def parsing_color_map() -> dict[str, str]:
    """The package's parsing palette as the hex colours ``gr.AnnotatedImage`` takes, keyed by class name."""
    return {
        name: "#{:02x}{:02x}{:02x}".format(*rgb)
        for name, rgb in zip(FACE_PARSING_CLASSES, PARSING_PALETTE, strict=True)
    }


def enlarge(array: np.ndarray, side: int = DISPLAY_SIDE) -> np.ndarray:
    """A crop-sized map repeated up to about ``side`` pixels: browsers show a 64 px image as a thumbnail, and
    repeating (not interpolating) keeps label maps and attention values exactly what the model produced."""
    factor = max(1, round(side / array.shape[0]))
    return array.repeat(factor, axis=0).repeat(factor, axis=1)


def attention_image(attention: np.ndarray) -> Image.Image:
    """The editor's attention as a grey image: white keeps the input pixel, black takes the generated colour."""
    return Image.fromarray((np.clip(enlarge(attention), 0.0, 1.0) * 255.0).round().astype(np.uint8), mode="L")


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
        return SeganPipeline.from_pretrained(path), DEFAULT_MODEL_NOTICE
    return SeganPipeline.from_pretrained(source), f"Model: `{source}`."


def example_photos(folder: Path = EXAMPLES_DIR) -> list[str]:
    """The bundled example photos (none when the folder is absent)."""
    if not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in EXAMPLE_SUFFIXES and p.is_file())


def build_demo(
    pipe_or_path: SeganPipeline | str | os.PathLike | None = None,
    device: str | None = None,
    provenance: str | None = None,
) -> gr.Blocks:
    """The demo page, queued (at most ``CONCURRENCY_LIMIT`` edits at once) and ready to launch.

    Args:
        pipe_or_path: a loaded pipeline, a pipeline folder / hub id, or ``None`` for the bundled default model.
        device: torch device; ``None`` picks CUDA when available, else CPU.
        provenance: where the model comes from, shown on the page (derived from ``pipe_or_path`` when omitted).
    """
    if isinstance(pipe_or_path, SeganPipeline):
        pipe, found = pipe_or_path, "Model: a SeganPipeline passed to `build_demo`."
    else:
        pipe, found = load_space_pipeline(pipe_or_path)
    editor = SpaceEditor(pipe.to(resolve_device(device)))

    def edit(path: str | None, expression: str, intensity: float, regions: list[str]):
        prepared, result = editor.edit(path, expression, intensity, regions)
        for note in prepared.image.notes:
            gr.Warning(note.replace(prepared.image.source, Path(prepared.image.source).name))
        return (
            result.photo,
            (prepared.original, result.photo),
            (enlarge(prepared.aligned.crop), parsing_annotations(enlarge(result.parsing))),
            attention_image(result.attention),
        )

    def show_upload(path: str | None) -> Image.Image | None:
        return editor.prepare(path)[1].original if path else None

    with gr.Blocks(title="hf_segan: facial expression editing") as demo:
        gr.Markdown(
            "# Facial expression editing with face parsing + hierarchical GANs\n"
            "Upload a photo with a face, choose an expression and which regions may change. The face is found, "
            "aligned, parsed into regions and edited; only the face is pasted back, the rest of the photo is "
            "untouched."
        )
        gr.Markdown(provenance or found)
        with gr.Row():
            with gr.Column():
                photo = gr.File(label="Photo", file_types=["image"], type="filepath", elem_id="photo")
                preview = gr.Image(label="Uploaded photo", interactive=False, format="png", elem_id="preview")
                expression = gr.Dropdown(list(EXPRESSIONS), value="happy", label="Target expression")
                intensity = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Intensity (0 = neutral)")
                regions = gr.CheckboxGroup(
                    editor.region_names,
                    value=editor.region_names,
                    label="Regions that may change",
                    info="All ticked: the whole face may change. Otherwise only the ticked regions do.",
                )
                with gr.Row():
                    edit_button = gr.Button("Edit expression", variant="primary", elem_id="edit-button")
                    gallery_button = gr.Button("Show all expressions")
                examples = example_photos()
                if examples:
                    gr.Examples(examples, inputs=[photo])
            with gr.Column():
                edited = gr.Image(label="Edited photo", format="png", type="pil", elem_id="edited")
                comparison = gr.ImageSlider(label="Before / after", format="png", type="pil")
        with gr.Row():
            parsing = gr.AnnotatedImage(
                label="Face parsing (aligned crop)",
                format="png",
                height=DISPLAY_SIDE + 64,
                color_map=parsing_color_map(),
            )
            attention = gr.Image(
                label="Attention (white = input pixel kept)", format="png", type="pil", height=DISPLAY_SIDE + 64
            )
        gallery = gr.Gallery(label="Every expression", columns=4, format="png")

        # decoding and face detection run (and fail, with their message) as soon as a photo arrives
        photo.change(show_upload, photo, preview, api_name=False)
        inputs = [photo, expression, intensity, regions]
        edit_button.click(edit, inputs, [edited, comparison, parsing, attention], api_name="edit")
        gallery_button.click(editor.all_expressions, [photo, intensity, regions], gallery, api_name="all_expressions")
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT)
    return demo


def launch_demo(demo: gr.Blocks, **launch_kwargs: Any) -> tuple[Any, str, str]:
    """``demo.launch`` with the upload size limit of :data:`MAX_UPLOAD_SIZE` unless given otherwise."""
    launch_kwargs.setdefault("max_file_size", MAX_UPLOAD_SIZE)
    return demo.launch(**launch_kwargs)
