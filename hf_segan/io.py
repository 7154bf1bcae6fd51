"""Reading the images users actually have, and writing results without ever leaving half a file.

Phone photos come rotated by EXIF, PNGs come 16-bit, paletted or with alpha, JPEGs come in CMYK, GIFs are
animated, and some files are truncated or are not images at all. :func:`load_image` turns each of these into an
RGB uint8 array (plus the alpha channel, which results carry through) or into a ``ValueError`` that names the
file and the problem. Decoding is bounded: a header announcing more than :data:`MAX_PIXELS` pixels is refused
as a decompression bomb before any pixel is decoded, and legal but huge images are downscaled while decoding.

Images already in memory go through :func:`as_image` (one image, kept as uint8 + alpha) or :func:`from_any`
(one or many, as model tensors). The one convention for torch input is the models' own: float ``(3, H, W)`` or
``(B, 3, H, W)`` in [-1, 1]; numpy input is ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``, uint8 or float in [0, 1].
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .image_utils import pil_to_tensor, tensor_to_uint8
from .models.validation import RANGE_TOLERANCE, check_image

#: Images announcing more pixels than this are refused. It is PIL's own default bomb threshold, applied here
#: explicitly so the bound holds even where an application has raised or disabled ``Image.MAX_IMAGE_PIXELS``;
#: an image at the bound takes about 360 MB as RGBA while it is decoded, before it is downscaled.
MAX_PIXELS = 89_478_485
#: Larger images are downscaled to about this many pixels while decoding (faces stay far above model size).
WORK_PIXELS = 16_000_000
#: Smallest side accepted: below this a face cannot be parsed.
MIN_SIDE = 32
SUPPORTED = "PNG, JPEG, WebP, GIF, BMP or TIFF"


@dataclass
class LoadedImage:
    """An image ready for the models: RGB uint8 (H, W, 3), the alpha channel if it had one, and notes on any
    conversion the user should know about (first frame of an animation, downscaling)."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    source: str
    notes: list[str] = field(default_factory=list)


def _to_uint8(image: Image.Image) -> np.ndarray:
    """Single-channel integer images (16-bit PNG) scaled to 8 bits by their bit depth, not clipped."""
    array = np.asarray(image)
    if array.dtype == np.uint8:
        return array
    if image.mode.startswith("I;16") or (image.mode == "I" and array.max(initial=0) > 255):
        return (array.astype(np.float64) / 257.0).round().clip(0, 255).astype(np.uint8)
    if image.mode == "F":
        return (array.clip(0.0, 1.0) * 255.0).round().astype(np.uint8)
    return array.clip(0, 255).astype(np.uint8)


def _rgb_and_alpha(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Any PIL mode -> RGB uint8 plus the alpha channel (palette transparency included), ``None`` without one."""
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode in ("PA", "RGBa"):
        image = image.convert("RGBA")
    alpha = None
    if image.mode in ("RGBA", "LA"):
        alpha = np.asarray(image.getchannel("A")).copy()
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        gray = _to_uint8(image)
        return np.repeat(gray[..., None], 3, axis=2), alpha
    return np.asarray(image.convert("RGB")).copy(), alpha


def load_image(source: str | os.PathLike, downscale: bool = True) -> LoadedImage:
    """Decode ``source`` safely into a :class:`LoadedImage` (see the module docstring for what is handled).

    ``downscale=False`` keeps every pixel of images above :data:`WORK_PIXELS`, for callers (the Space) that
    return the photo at its own size; :data:`MAX_PIXELS` still applies.
    """
    name = str(source)
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"{name}: no such file.")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            # PIL's warning fires at its global threshold; the explicit MAX_PIXELS check below decides instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except UnidentifiedImageError as error:
        raise ValueError(f"{name}: not an image (or a format this reader lacks); accepted: {SUPPORTED}.") from error
    except Image.DecompressionBombError as error:
        raise ValueError(f"{name}: refused as a possible decompression bomb ({error}).") from error
    except OSError as error:
        raise ValueError(f"{name}: cannot be read ({error}).") from error
    with image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise ValueError(
                f"{name}: {width}x{height} is {width * height / 1e6:.0f} MP, above the {MAX_PIXELS / 1e6:.0f} MP "
                "limit; refused as a possible decompression bomb."
            )
        if getattr(image, "n_frames", 1) > 1:
            image.seek(0)
            notes.append(f"{name}: animated image with {image.n_frames} frames; only the first frame is used.")
        if downscale and width * height > WORK_PIXELS:
            scale = (WORK_PIXELS / (width * height)) ** 0.5
            target = (max(1, int(width * scale)), max(1, int(height * scale)))
            image.draft(None, target)
            notes.append(f"{name}: {width}x{height} downscaled to about {target[0]}x{target[1]} while decoding.")
        try:
            image.load()
            oriented = ImageOps.exif_transpose(image)
            if downscale and oriented.width * oriented.height > WORK_PIXELS:
                scale = (WORK_PIXELS / (oriented.width * oriented.height)) ** 0.5
                oriented.thumbnail((int(oriented.width * scale) + 1, int(oriented.height * scale) + 1))
            rgb, alpha = _rgb_and_alpha(oriented)
        except (OSError, SyntaxError, ValueError) as error:
            raise ValueError(f"{name}: truncated or corrupt image data ({error}).") from error
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise ValueError(
            f"{name}: {rgb.shape[1]}x{rgb.shape[0]} is too small; images need at least {MIN_SIDE} px on each side."
        )
    return LoadedImage(rgb=rgb, alpha=alpha, source=name, notes=notes)


def as_image(image: Any, name: str = "image") -> LoadedImage:
    """One image of any accepted kind (file path, PIL, numpy, torch; see the module docstring) as a
    :class:`LoadedImage`. PIL images of every mode go through the same conversion as files (16-bit scaled,
    palette and alpha kept); a 4-channel numpy array is RGB + alpha."""
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    if isinstance(image, Image.Image):
        rgb, alpha = _rgb_and_alpha(image)
        return LoadedImage(rgb=rgb, alpha=alpha, source=name)
    if isinstance(image, torch.Tensor):
        return LoadedImage(rgb=tensor_to_uint8(_checked_tensor(image, name)), alpha=None, source=name)
    if isinstance(image, np.ndarray):
        array = _checked_array(image, name)
        if np.issubdtype(array.dtype, np.floating):
            array = (array * 255.0).round().clip(0, 255).astype(np.uint8)
        if array.ndim == 2:
            return LoadedImage(rgb=np.repeat(array[..., None], 3, axis=2), alpha=None, source=name)
        alpha = array[..., 3].copy() if array.shape[2] == 4 else None
        return LoadedImage(rgb=np.ascontiguousarray(array[..., :3]), alpha=alpha, source=name)
    raise ValueError(f"{name}: cannot read a {type(image).__name__}; pass a file path, PIL image, numpy or torch.")


def from_any(images: Any) -> list[torch.Tensor]:
    """One image or many (a list, or a 4-D numpy/torch batch) as (3, H, W) float tensors in [-1, 1].

    Float inputs keep their precision (torch tensors pass through unchanged); everything else goes through
    :func:`as_image`. Alpha is dropped here: models see RGB only.
    """
    if isinstance(images, (torch.Tensor, np.ndarray)) and images.ndim == 4:
        images = list(images)
    elif not isinstance(images, (list, tuple)):
        images = [images]
    if not images:
        raise ValueError("No images given.")
    tensors = []
    for index, image in enumerate(images):
        name = f"image {index}"
        if isinstance(image, torch.Tensor):
            tensors.append(_checked_tensor(image, name).detach().float().cpu())
        elif isinstance(image, np.ndarray) and np.issubdtype(image.dtype, np.floating):
            array = _checked_array(image, name)
            array = np.repeat(array[..., None], 3, axis=2) if array.ndim == 2 else array[..., :3]
            tensors.append(torch.from_numpy(array.astype(np.float32)).permute(2, 0, 1) * 2.0 - 1.0)
        else:
            tensors.append(pil_to_tensor(Image.fromarray(as_image(image, name).rgb)))
    return tensors


def _checked_tensor(image: torch.Tensor, name: str) -> torch.Tensor:
    """A single (3, H, W) image tensor in [-1, 1], or a ValueError saying what is accepted."""
    if image.ndim != 3:
        raise ValueError(f"{name}: tensors must be (3, H, W) or (B, 3, H, W), got shape {tuple(image.shape)}.")
    check_image(image[None], name)
    return image


def _checked_array(image: np.ndarray, name: str) -> np.ndarray:
    """A numpy image (H, W), (H, W, 3) or (H, W, 4), uint8 or float in [0, 1], or a ValueError."""
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(f"{name}: numpy images must be (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}.")
    if np.issubdtype(image.dtype, np.floating):
        if image.size and (image.min() < -RANGE_TOLERANCE or image.max() > 1 + RANGE_TOLERANCE):
            low, high = float(image.min()), float(image.max())
            raise ValueError(f"{name}: float numpy images must lie in [0, 1], got {low:.4g}..{high:.4g}.")
        return image.clip(0.0, 1.0)
    if image.dtype != np.uint8:
        raise ValueError(f"{name}: numpy images must be uint8 or float in [0, 1], got {image.dtype}.")
    return image


def save_image_atomic(
    image: np.ndarray | Image.Image, path: str | os.PathLike, alpha: np.ndarray | None = None
) -> Path:
    """Write an image (RGB uint8 array or PIL image, plus ``alpha`` for formats that keep it) via a temporary file
    in the same folder and a rename, so ``path`` is never a partial image. The format follows the suffix; formats
    without alpha (JPEG) get the RGB part."""
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown image suffix {path.suffix!r}; use .png, .jpg or .webp.")
    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    if alpha is not None:
        picture = picture.convert("RGB")
        picture.putalpha(Image.fromarray(alpha))
    if fmt not in ("PNG", "WEBP", "TIFF") and picture.mode not in ("RGB", "L"):
        picture = picture.convert("RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        picture.save(tmp, format=fmt)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
