"""``SeganPipeline``: parse a face, then edit its expression through the parser's soft region masks.

Two entry points:

* ``pipe(images, expression=..., intensity=..., regions=...)`` for face crops (PIL, numpy, torch; one or many).
  Crops are resized to the model's working ``resolution``; the *change* the editor makes is resized back and
  added to the original pixels, so an edit never blurs what it did not touch.
* ``pipe.edit_photo(photo, ...)`` for whole photos. With a ``geometry`` component (the bundled model has one) the
  face's 68 landmarks are found, the geometry model moves them toward the target expression and the photo's own
  pixels are warped accordingly (:mod:`hf_segan.photo_geometry`); an editor not trained on real photos adds
  nothing else, so no synthetic texture lands on a real face. Without one: detect faces, align each to the
  canonical crop, edit the crops in one batch and paste them back with a feathered blend limited to the face.
* ``pipe.parse_photo(photo, ...)`` parses the aligned face(s) of a whole photo (landmark masks, or the learned
  parser for a model trained on real photos) into one label map at the photo's size.

This module imports every component class: diffusers loads components only from modules already imported, and
the module paths written into ``model_index.json`` (``hf_segan.models.bisenet`` / ``unet`` / ``editor`` /
``geometry``) are part of the saved format and must stay stable.
"""

from __future__ import annotations

import json
import numbers
import os
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import DiffusionPipeline
from diffusers.utils import BaseOutput
from PIL import Image

from .alignment import (
    AlignedFace,
    FaceBox,
    FoundFace,
    align_face_from_landmarks,
    align_found_faces,
    check_found_faces,
    detect_faces,
    find_faces,
    paste_face,
)
from .constants import PHOTO_PARSERS
from .expressions import ExpressionSpec, expression_condition
from .fast_path import fast_dtype, prepare_for_inference
from .image_utils import overlay_labels, tensor_to_uint8
from .io import as_image, follow_umask, from_any
from .landmark_parsing import landmark_parsing_probs
from .landmarks import FaceLandmarks, landmarks_in_box
from .models.bisenet import BiSeNetFaceParser
from .models.editor import HierarchicalExpressionGenerator
from .models.geometry import LandmarkGeometryModel
from .models.unet import UNetFaceParser
from .photo_geometry import FIELD_SIZE, edit_face_geometry, region_scales_per_landmark
from .photo_parsing import crop_landmarks, labels_on_photo, landmark_probs_for_photo

OUTPUT_TYPES = ("pil", "np", "pt")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
DEFAULT_MODEL_NOTICE = (
    "Using the bundled default model: a small SeganPipeline trained only on SynthFaces procedural faces, not on "
    "real photos; on photos it only moves the face's own pixels (geometry), on SynthFaces crops it edits like a "
    "cartoon. Pass --model / from_pretrained(PATH_OR_ID) for a real model."
)


def default_model_path() -> Path:
    """The small SynthFaces-trained pipeline shipped inside the package (``hf_segan/assets/default_model``)."""
    return Path(str(resources.files("hf_segan") / "assets" / "default_model"))


@dataclass
class SeganPipelineOutput(BaseOutput):
    """Edits and what explains them, one entry per input image (at the input's size).

    Args:
        images: edited images (PIL list, (B, H, W, 3) uint8 numpy, or (B, 3, H, W) [-1, 1] tensor).
        parsing: label maps (B, H, W) int64, values index :data:`hf_segan.FACE_PARSING_CLASSES`.
        region_masks: (B, R, H, W) float region masks, R = ``editor.region_names``.
        attention: (B, H, W) float attention; 1 keeps the input pixel.
    """

    images: Any
    parsing: np.ndarray
    region_masks: np.ndarray
    attention: np.ndarray


@dataclass
class PhotoEditResult:
    """A whole photo with its face(s) edited."""

    image: Image.Image
    faces: list[FaceBox]
    notes: list[str]


#: Parser classes by the ``_class_name`` a saved parser's ``config.json`` holds.
PARSER_CLASSES = {cls.__name__: cls for cls in (BiSeNetFaceParser, UNetFaceParser)}


def parser_folder_class(path: str | os.PathLike) -> type[BiSeNetFaceParser] | type[UNetFaceParser] | None:
    """The class of a local parser-only model folder (e.g. ``hf-segan convert-bisenet``'s output or
    ``train_parser.py``'s ``best``), or None for anything else (a pipeline folder, a hub id, ...)."""
    folder = Path(path)
    config = folder / "config.json"
    if not config.is_file() or (folder / "model_index.json").exists():
        return None
    try:
        class_name = json.loads(config.read_text()).get("_class_name")
    except (json.JSONDecodeError, AttributeError):
        return None
    return PARSER_CLASSES.get(class_name)


def parsing_probs_at(parser: torch.nn.Module, images: torch.Tensor, size: int) -> torch.Tensor:
    """``parser``'s class probabilities for images (B, 3, H, W) in [-1, 1], parsed at ``size`` x ``size`` and
    returned at (H, W): a parser sees faces at the scale it was trained at, whatever size the caller works at."""
    height, width = images.shape[2:]
    resized = (height, width) != (size, size)
    if resized:
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    probs = parser(images, return_aux=False).logits.float().softmax(1)
    if resized:
        probs = F.interpolate(probs, size=(height, width), mode="bilinear", align_corners=False)
    return probs


class NonFiniteOutputError(ValueError):
    """A model returned NaN or infinite values: its weights are broken, every input would fail the same way, and
    no result is returned (so nothing corrupt is ever written)."""


def _check_finite(values: torch.Tensor, component: str) -> None:
    if not bool(torch.isfinite(values).all()):
        raise NonFiniteOutputError(
            f"the {component} produced NaN or infinite values, so no result was returned; its weights are probably "
            "corrupt (retrain or re-download the model)."
        )


@dataclass
class PhotoParseResult:
    """A photo's face parsing.

    Args:
        labels: (H, W) uint8 label map at the photo's size, values index :data:`hf_segan.FACE_PARSING_CLASSES`;
            background outside the faces.
        faces: the aligned faces that were parsed, largest first (empty for an already aligned crop).
        notes: what the user should know (e.g. faces aligned from a Haar box, without landmarks).
        parser: the parser that ran, ``landmarks`` or ``model``.
    """

    labels: np.ndarray
    faces: list[AlignedFace]
    notes: list[str]
    parser: str


def check_pipeline_folder(path: str | os.PathLike) -> None:
    """Refuse, with a clear message, a local folder that is not a saved SeganPipeline or that holds only pickle
    weights (only safetensors are ever loaded)."""
    folder = Path(path)
    if not folder.exists():
        return  # a hub id: diffusers resolves (and in offline mode, reports) it
    index = folder / "model_index.json"
    if not index.is_file():
        hint = " It holds a face parser: load it with SeganPipeline.from_parser." if parser_folder_class(folder) else ""
        raise ValueError(f"{folder} is not a SeganPipeline folder (no model_index.json).{hint}")
    try:
        index_data = json.loads(index.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{index} is not valid JSON: {error}.") from error
    class_name = index_data.get("_class_name")
    if class_name != "SeganPipeline":
        raise ValueError(f"{folder} holds a {class_name!r}, not a SeganPipeline.")
    check_component_classes(index)
    optional = [name for name in ("geometry",) if (index_data.get(name) or [None])[0] is not None]
    for component in ("parser", "editor", *optional):
        weights = [p for p in (folder / component).glob("*") if p.suffix in WEIGHT_SUFFIXES]
        if not any(p.suffix == ".safetensors" for p in weights):
            found = ", ".join(p.name for p in weights) or "no weights"
            raise ValueError(
                f"{folder / component} has {found}; only safetensors weights are loaded (pickle files can run code)."
            )


def check_component_classes(index: Path) -> None:
    """Refuse a ``model_index.json`` whose parser, editor or geometry names a class the pipeline does not take
    (diffusers would build that class from the folder and fail later, e.g. "Cannot copy out of meta tensor"). The
    accepted classes are read from :class:`SeganPipeline`'s constructor annotations."""
    entries = json.loads(index.read_text())
    hints = typing.get_type_hints(SeganPipeline.__init__)
    for component in ("parser", "editor", "geometry"):
        entry = entries.get(component)
        if component in SeganPipeline._optional_components and entry in (None, [None, None]):
            continue
        accepted = [cls for cls in typing.get_args(hints[component]) or (hints[component],) if cls is not type(None)]
        names = {(cls.__module__, cls.__name__) for cls in accepted}
        if not (isinstance(entry, list) and len(entry) == 2 and tuple(entry) in names):
            expected = " or ".join(f"[{module!r}, {name!r}]" for module, name in sorted(names))
            raise ValueError(f"{index} names {entry!r} as the {component}; a SeganPipeline takes {expected}.")


class SeganPipeline(DiffusionPipeline):
    """Face parser + hierarchical expression editor.

    Args:
        parser: a face parser (:class:`~hf_segan.models.bisenet.BiSeNetFaceParser` or
            :class:`~hf_segan.models.unet.UNetFaceParser`).
        editor: a :class:`~hf_segan.models.editor.HierarchicalExpressionGenerator`, or None for a pipeline that
            only parses (:meth:`from_parser`).
        geometry: optional :class:`~hf_segan.models.geometry.LandmarkGeometryModel` for :meth:`edit_photo`
            (folders saved without one still load).
        resolution: the square side the editor was trained at; inputs are resized to it. The parser parses at its
            own ``input_resolution`` where its config records one (:attr:`parser_resolution`).
        geometry_scale: factor on the geometry model's landmark moves on photos (1 = SynthFaces' expressions).
        geometry_region_scales: extra factors on the moves of some landmark groups on photos (keys of
            :data:`~hf_segan.photo_geometry.SCALE_GROUPS`, e.g. ``{"mouth": 1.4}``; groups not named keep 1), for
            movements SynthFaces makes too weak to read on a photo.
    """

    model_cpu_offload_seq = "parser->editor"
    _optional_components: ClassVar[list[str]] = ["geometry"]
    #: The fast path's dtype once :meth:`enable_fast_path` has run (``None``: the models as loaded).
    fast_path_dtype: torch.dtype | None = None

    def __init__(
        self,
        parser: BiSeNetFaceParser | UNetFaceParser,
        editor: HierarchicalExpressionGenerator | None,
        geometry: LandmarkGeometryModel | None = None,
        resolution: int = 128,
        geometry_scale: float = 1.0,
        geometry_region_scales: dict[str, float] | None = None,
    ) -> None:
        super().__init__()
        if not geometry_scale > 0:
            raise ValueError(f"geometry_scale must be positive, got {geometry_scale}.")
        region_scales_per_landmark(geometry_region_scales)
        self.register_modules(parser=parser, editor=editor, geometry=geometry)
        self.register_to_config(
            resolution=resolution, geometry_scale=geometry_scale, geometry_region_scales=geometry_region_scales
        )

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs) -> SeganPipeline:
        """Load a saved pipeline (local folder or hub id); safetensors only."""
        check_pipeline_folder(pretrained_model_name_or_path)
        kwargs.setdefault("use_safetensors", True)
        return super().from_pretrained(pretrained_model_name_or_path, **kwargs)

    @classmethod
    def from_parser(
        cls, parser: str | os.PathLike | BiSeNetFaceParser | UNetFaceParser, resolution: int | None = None
    ) -> SeganPipeline:
        """A parse-only pipeline around a parser model or a parser-only folder (safetensors only), at the parser's
        ``input_resolution`` unless ``resolution`` is given: ``parse`` works, editing raises a ValueError."""
        if not isinstance(parser, tuple(PARSER_CLASSES.values())):
            parser_class = parser_folder_class(parser)
            if parser_class is None:
                raise ValueError(f"{parser} is not a face parser folder (a config.json naming {list(PARSER_CLASSES)}).")
            parser = parser_class.from_pretrained(parser, use_safetensors=True)
        resolution = resolution or parser.config.input_resolution
        if resolution is None:
            raise ValueError(
                "The parser's config records no input_resolution (the side it was trained at); pass resolution=."
            )
        return cls(parser=parser.eval(), editor=None, resolution=resolution)

    @property
    def parser_resolution(self) -> int:
        """The side faces are parsed at: the parser's recorded ``input_resolution``, else :attr:`config.resolution`."""
        return getattr(self.parser.config, "input_resolution", None) or self.config.resolution

    def _require_editor(self) -> None:
        if self.editor is None:
            raise ValueError(
                "This pipeline has no editor (it was built around a parser alone): it can parse faces but not edit "
                "them; load a SeganPipeline folder to edit."
            )

    def enable_fast_path(self, dtype: torch.dtype | None = None) -> SeganPipeline:
        """Make this pipeline's inference faster, in place; returns the pipeline (see :mod:`hf_segan.fast_path`).

        BatchNorms are folded into their convolutions, both models are cast to ``dtype`` (default: bf16 where the
        device computes it natively, else fp32) and the parser is made channels-last. Call it after moving the
        pipeline to its device. Edits then differ from the fp32 models by at most
        :data:`~hf_segan.fast_path.BF16_TOLERANCE` in bf16 and :data:`~hf_segan.fast_path.FP32_TOLERANCE` in fp32.
        The models are changed for inference only: the pipeline can no longer be saved or trained.
        """
        if self.fast_path_dtype is not None:
            raise ValueError(
                f"The fast path is already enabled ({self.fast_path_dtype}); reload the pipeline to change it."
            )
        dtype = fast_dtype(self._execution_device) if dtype is None else dtype
        prepare_for_inference(self.parser, dtype, channels_last=True)
        if self.editor is not None:
            prepare_for_inference(self.editor, dtype, channels_last=False)
        self.fast_path_dtype = dtype
        return self

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs) -> None:
        """Save as a diffusers pipeline folder; refused after :meth:`enable_fast_path` (its folded models would not
        load back into their classes)."""
        if self.fast_path_dtype is not None:
            raise ValueError(
                "This pipeline's models were folded for inference by enable_fast_path() and no longer match their "
                "saved format; save the pipeline before enabling the fast path."
            )
        super().save_pretrained(save_directory, **kwargs)
        follow_umask(save_directory)

    # --- inputs -----------------------------------------------------------------------------------------------

    def _resize(self, image: torch.Tensor, size: int | None = None) -> torch.Tensor:
        size = size or self.config.resolution
        return F.interpolate(image[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)

    # --- inference --------------------------------------------------------------------------------------------

    def parsing_probs(self, batch: torch.Tensor) -> torch.Tensor:
        """The parser's class probabilities (B, num_classes, H, W) for model-ready images (B, 3, H, W) in [-1, 1],
        parsed at :attr:`parser_resolution`."""
        return parsing_probs_at(self.parser, batch, self.parser_resolution)

    @torch.inference_mode()
    def __call__(
        self,
        images: Any,
        expression: ExpressionSpec = "happy",
        intensity: float = 1.0,
        regions: Sequence[str] | None = None,
        output_type: str = "pil",
        batch_size: int = 16,
        return_dict: bool = True,
    ) -> SeganPipelineOutput | tuple:
        """Edit face crops toward ``expression`` at ``intensity``; ``regions`` limits which groups may change.

        Returns a :class:`SeganPipelineOutput`, or with ``return_dict=False`` (as diffusers pipelines do) the tuple
        ``(images, parsing, region_masks, attention)``.
        """
        self._require_editor()
        _check_run_arguments(output_type, batch_size)
        condition = expression_condition(expression, intensity)
        originals = from_any(images)
        # The device the models run on, which with model CPU offload is not the one their weights wait on.
        device, dtype = self._execution_device, self.editor.dtype
        edited, parsing, masks, attention = [], [], [], []
        for start in range(0, len(originals), batch_size):
            chunk = originals[start : start + batch_size]
            small = torch.cat([self._resize(image) for image in chunk]).to(device, dtype)
            # The parser reads the originals at its own resolution (the editor resizes its probabilities).
            parser_input = small
            if self.parser_resolution != self.config.resolution:
                parser_input = torch.cat([self._resize(image, self.parser_resolution) for image in chunk])
            probs = self.parsing_probs(parser_input.to(device, dtype))
            _check_finite(probs, "parser")
            out = self.editor(
                small, probs.to(dtype), condition.to(device, dtype).expand(len(chunk), -1), editable_regions=regions
            )
            _check_finite(out.images, "editor")
            for i, original in enumerate(chunk):
                size = original.shape[1:]

                def up(t: torch.Tensor, size=size) -> torch.Tensor:
                    return F.interpolate(t[None].float(), size=size, mode="bilinear", align_corners=False)[0].cpu()

                delta = up(out.images[i] - small[i])
                edited.append((original + delta).clamp(-1, 1))
                parsing.append(up(probs[i]).argmax(0))
                masks.append(up(out.region_masks[i]))
                attention.append(up(out.attention[i])[0])
        result = torch.stack(edited) if len({tuple(t.shape) for t in edited}) == 1 else edited
        output = SeganPipelineOutput(
            images=self._format(result, output_type),
            parsing=_stack_numpy(parsing),
            region_masks=_stack_numpy(masks),
            attention=_stack_numpy(attention),
        )
        return output if return_dict else output.to_tuple()

    @staticmethod
    def _format(images: torch.Tensor | list[torch.Tensor], output_type: str):
        if output_type == "pt":
            return images
        arrays = [tensor_to_uint8(image) for image in images]
        if output_type == "np":
            return np.stack(arrays) if len({a.shape for a in arrays}) == 1 else arrays
        return [Image.fromarray(a) for a in arrays]

    @torch.inference_mode()
    def parse(self, images: Any, output_type: str = "np", batch_size: int = 16):
        """Face parsing alone: one label map per input at its size, values index
        :data:`hf_segan.FACE_PARSING_CLASSES`: (B, H, W) int64 numpy (``np``) or tensor (``pt``), or mode-L PIL
        images (``pil``); a list where input sizes differ."""
        _check_run_arguments(output_type, batch_size)
        originals = from_any(images)
        labels = []
        device, dtype = self._execution_device, self.parser.dtype
        for start in range(0, len(originals), batch_size):
            chunk = originals[start : start + batch_size]
            probs = self.parsing_probs(
                torch.cat([self._resize(image, self.parser_resolution) for image in chunk]).to(device, dtype)
            )
            _check_finite(probs, "parser")
            for i, original in enumerate(chunk):
                up = F.interpolate(probs[i : i + 1], size=original.shape[1:], mode="bilinear", align_corners=False)
                labels.append(up[0].argmax(0).cpu())
        if output_type == "pil":
            return [Image.fromarray(label.numpy().astype(np.uint8), mode="L") for label in labels]
        if output_type == "pt":
            return torch.stack(labels) if len({tuple(t.shape) for t in labels}) == 1 else labels
        return _stack_numpy(labels)

    @torch.inference_mode()
    def parse_photo(
        self, photo: Any, faces: str | Sequence[FoundFace] = "all", parser: str = "auto", aligned: bool = False
    ) -> PhotoParseResult:
        """Parse the face(s) of a whole photo: each face is aligned (:func:`hf_segan.alignment.find_faces`) and
        parsed on its crop, and the crops' probabilities are warped back into one label map at the photo's size.

        Args:
            photo: a file path, PIL image, numpy or torch image (see :mod:`hf_segan.io`).
            faces: ``all`` or ``largest`` detected face(s), or the photo's faces found before (a list of
                :data:`~hf_segan.alignment.FoundFace`, e.g. from :func:`~hf_segan.alignment.locate_faces`): they are
                aligned as :func:`~hf_segan.alignment.find_faces` would align them and nothing is detected again.
            parser: one of :data:`~hf_segan.constants.PHOTO_PARSERS`; ``auto`` is ``landmarks`` unless the editor's
                config says ``trained_on_real_photos`` or the pipeline only parses (no editor, e.g. a converted
                BiSeNet). Faces aligned from a Haar box have no landmarks: ``auto`` then uses the model's parser
                (with a note), ``landmarks`` refuses.
            aligned: ``photo`` is already an aligned face crop (margin 1): parse it whole, no detection.
        """
        if parser not in PHOTO_PARSERS:
            raise ValueError(f"parser must be one of {PHOTO_PARSERS}, got {parser!r}.")
        loaded = as_image(photo, name="photo")
        rgb, notes = loaded.rgb, list(loaded.notes)
        # A parse-only pipeline (e.g. a converted BiSeNet) has nothing but its parser: the user chose it to parse.
        learned = self.editor is None or self.editor.config.trained_on_real_photos
        chosen = parser if parser != "auto" else "model" if learned else "landmarks"
        if aligned:
            if chosen == "model":
                return PhotoParseResult(self.parse(rgb)[0].astype(np.uint8), [], notes, chosen)
            probs = landmark_parsing_probs(crop_landmarks(rgb), rgb.shape[:2])
            return PhotoParseResult(probs[0].argmax(0).numpy().astype(np.uint8), [], notes, chosen)
        # Aligned at the side the parser reads faces at, so the learned parser never sees an upsampled crop.
        found, found_notes = find_faces(rgb, faces, size=self.parser_resolution)
        notes += found_notes
        if not found:
            raise ValueError(f"no face found in {loaded.source}.")
        if chosen == "landmarks" and found[0].landmarks is None:  # Haar boxes: no face had landmarks
            if parser == "landmarks":
                raise ValueError(
                    f"parser 'landmarks' needs face landmarks, but none were found in {loaded.source} (only a Haar "
                    "box); use parser 'auto' or 'model'."
                )
            chosen = "model"
            notes.append("no landmarks, so the faces were parsed by the model's parser")
        if chosen == "landmarks":
            maps = [landmark_probs_for_photo(face) for face in found]
        else:
            crops = torch.cat([image[None] for image in from_any([face.crop for face in found])])
            probs = self.parsing_probs(crops.to(self._execution_device, self.parser.dtype)).cpu().numpy()
            maps = [(face_probs, face.matrix) for face_probs, face in zip(probs, found, strict=True)]
        return PhotoParseResult(labels_on_photo(rgb.shape[:2], maps), found, notes, chosen)

    @staticmethod
    def overlay(image: Image.Image | np.ndarray, labels: np.ndarray, alpha: float = 0.5) -> Image.Image:
        """The colour-coded parsing drawn over ``image``."""
        rgb = np.asarray(image.convert("RGB")) if isinstance(image, Image.Image) else image
        return Image.fromarray(overlay_labels(rgb, labels, alpha))

    def edit_photo(
        self,
        photo: Any,
        expression: ExpressionSpec = "happy",
        intensity: float = 1.0,
        regions: Sequence[str] | None = None,
        faces: str | Sequence[FoundFace] = "largest",
        margin: float = 1.0,
        box: FaceBox | Sequence[float] | None = None,
        feather: float = 0.08,
        glasses: bool | None = None,
    ) -> PhotoEditResult:
        """Edit the face(s) of a whole photo and return the whole photo (alpha kept). Pixels outside the edited
        part of each face stay byte-identical.

        With a ``geometry`` component the edit moves the photo's own pixels (landmarks -> geometry model -> warp,
        :mod:`hf_segan.photo_geometry`); ``intensity`` scales the moves (0 changes nothing). The learned editor adds
        its colour change on top only if it was trained on real photos (its ``trained_on_real_photos`` config).

        Args:
            photo: a file path, PIL image, numpy or torch image (see :mod:`hf_segan.io`).
            faces: ``largest`` or ``all`` detected faces, or the photo's faces found before (a list of
                :data:`~hf_segan.alignment.FoundFace`, e.g. from :func:`~hf_segan.alignment.locate_faces`), all of
                which are edited and none detected again. With a geometry component only faces with landmarks are
                edited; without one each face is aligned at ``margin`` (a ``FaceBox`` as the Haar boxes are).
            margin: zoom-out of the aligned crop (1 = the training template).
            box: a precomputed face box ``(x, y, width, height)`` instead of detection.
            feather: width of the blend ramp at the face's edge (fraction of the crop side) for the learned edit.
            glasses: whether the faces wear glasses, for the geometric edit: the landmarks put such a face's brows
                on the frame, so the frame's line is held still and the brows move above it (moving the landmarks
                would bend the frame). None (default) finds out from each face's pixels
                (:func:`~hf_segan.glasses.wears_glasses`); True or False overrides that for every face edited, e.g.
                False for thin frames above which the landmarks find the brows themselves.
        """
        self._require_editor()
        if isinstance(faces, str):
            if faces not in ("largest", "all"):
                raise ValueError(f"faces must be 'largest', 'all' or a list of found faces, got {faces!r}.")
        else:
            check_found_faces(faces)
            if box is not None:
                raise ValueError("pass either box or a list of found faces as faces, not both.")
        expression_condition(expression, intensity)  # validate before any work
        if glasses is not None and not isinstance(glasses, bool):
            raise ValueError(f"glasses must be None (find out), True or False, got {glasses!r}.")
        loaded = as_image(photo, name="photo")
        rgb, alpha, notes = loaded.rgb, loaded.alpha, list(loaded.notes)
        if box is not None and not isinstance(box, FaceBox):
            if len(box) != 4 or not all(isinstance(v, numbers.Real) for v in box) or min(box[2:]) <= 0:
                raise ValueError(f"box must be (x, y, width, height) with positive width and height, got {box}.")
            box = FaceBox(*map(float, box))
        real_photo_editor = bool(self.editor.config.get("trained_on_real_photos", False))
        if self.geometry is not None:
            result, boxes = self._edit_geometry(
                rgb, expression, intensity, regions, faces, box, loaded.source, notes, glasses
            )
            if real_photo_editor:
                aligned = align_found_faces(result, boxes, size=self.config.resolution, margin=margin)
                result = self._paste_learned_edit(result, aligned, expression, intensity, regions, feather)
            else:
                notes.append(
                    "Geometry-only edit: the face's own pixels were moved; this model's editor was trained on "
                    "synthetic faces only, so it adds no colour to a photo."
                )
        else:
            if not isinstance(faces, str):
                found = list(faces)
            else:
                found = [box] if box is not None else detect_faces(rgb)
                if faces == "largest" and found:
                    found = [max(found, key=lambda b: b.area)]
            if not found:
                raise ValueError(f"no face found in {loaded.source}.")
            aligned = align_found_faces(rgb, found, size=self.config.resolution, margin=margin)
            boxes = [face.box for face in aligned]
            if not real_photo_editor:
                notes.append(
                    "This model has no geometry component, so its editor (trained on synthetic faces only) repaints "
                    "the face and may add synthetic texture; a model with a geometry component (e.g. the bundled "
                    "default) edits photos by moving their own pixels."
                )
            result = self._paste_learned_edit(rgb, aligned, expression, intensity, regions, feather)
        image = Image.fromarray(result)
        if alpha is not None:
            image.putalpha(Image.fromarray(alpha))
        return PhotoEditResult(image=image, faces=boxes, notes=notes)

    def _edit_geometry(self, rgb, expression, intensity, regions, faces, box, source, notes, glasses):
        """The geometry edit of each face, one after the other on the same photo; returns the photo and the faces'
        boxes (with eye centres from the landmarks)."""
        if box is not None:
            corners = (box.x, box.y, box.width, box.height)
            landmarks = FaceLandmarks(corners, 1.0, landmarks_in_box(rgb, corners))
            found = [align_face_from_landmarks(rgb, landmarks, FIELD_SIZE)]
        else:
            found, found_notes = find_faces(rgb, faces, size=FIELD_SIZE)
            notes.extend(found_notes)
            if not found:
                raise ValueError(f"no face found in {source}.")
            if all(face.landmarks is None for face in found):
                raise ValueError(
                    f"no face with landmarks found in {source}; the geometric edit needs a frontal face that the "
                    "landmark detector finds (pass box=(x, y, width, height) around the face to help it)."
                )
        condition = expression_condition(expression, 1.0)
        result, boxes = rgb, []
        for face in found:
            if face.landmarks is None:
                continue
            edit = edit_face_geometry(
                result,
                face,
                self.geometry,
                condition,
                intensity,
                regions,
                scale=self.config.get("geometry_scale", 1.0),
                region_scales=self.config.get("geometry_region_scales"),
                glasses=glasses,
            )
            result = edit.image
            if edit.applied < 1.0:
                notes.append(
                    f"The expression was applied at {edit.applied:.0%} of its full strength on one face: more would "
                    "have folded the face's pixels over each other."
                )
            if edit.glasses and glasses is None:
                notes.append(
                    "One face wears glasses: the landmarks put its brows on the frame, so the frame was held still "
                    "and the brows moved above it, by less than without glasses; say it has none (glasses=False, "
                    "--glasses no, or 'no' in the Space) to move the landmarks' brows instead."
                )
            if edit.eyes_kept_shut:
                notes.append(
                    "The eyes of one face are closed (or nearly) in the photo: moving its own pixels cannot open them, "
                    "so they were not opened."
                )
            boxes.append(face.box)
        return result, boxes

    def _paste_learned_edit(self, rgb, aligned, expression, intensity, regions, feather):
        """The learned editor's change on each aligned face crop, pasted back over the face."""
        edits = self([a.crop for a in aligned], expression, intensity, regions, output_type="np").images
        result = rgb
        for crop, alignment in zip(edits, aligned, strict=True):
            result = paste_face(result, crop, alignment, feather)
        return result


def _check_run_arguments(output_type: str, batch_size: int) -> None:
    if output_type not in OUTPUT_TYPES:
        raise ValueError(f"output_type must be one of {OUTPUT_TYPES}, got {output_type!r}.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")


def _stack_numpy(tensors: list[torch.Tensor]) -> np.ndarray | list[np.ndarray]:
    arrays = [t.numpy() for t in tensors]
    return np.stack(arrays) if len({a.shape for a in arrays}) == 1 else arrays
