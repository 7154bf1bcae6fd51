"""Reading the images users actually have, and writing results without ever leaving half a file.

Phone photos come rotated by EXIF, PNGs come 16-bit, paletted or with alpha, JPEGs come in CMYK, GIFs are
animated, and some files are truncated or are not images at all. :func:`load_image` turns each of these into an
RGB uint8 array (plus the alpha channel, which results carry through) or into a ``ValueError`` that names the
file and the problem. Decoding is bounded: a header announcing more than :data:`MAX_PIXELS` pixels is refused
as a decompression bomb before any pixel is decoded, and legal but huge images are downscaled while decoding.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

#: Images announcing more pixels than this are refused (a 16k x 12k photo is ~200 MP).
MAX_PIXELS = 200_000_000
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
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    alpha = None
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        alpha = np.asarray(image.getchannel("A")).copy()
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        gray = _to_uint8(image)
        return np.repeat(gray[..., None], 3, axis=2), alpha
    return np.asarray(image.convert("RGB")).copy(), alpha


def load_image(source: str | os.PathLike) -> LoadedImage:
    """Decode ``source`` safely into a :class:`LoadedImage` (see the module docstring for what is handled)."""
    name = str(source)
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"{name}: no such file.")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except UnidentifiedImageError as error:
        raise ValueError(f"{name}: not an image (or a format this reader lacks); accepted: {SUPPORTED}.") from error
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
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
        if width * height > WORK_PIXELS:
            scale = (WORK_PIXELS / (width * height)) ** 0.5
            target = (max(1, int(width * scale)), max(1, int(height * scale)))
            image.draft(None, target)
            notes.append(f"{name}: {width}x{height} downscaled to about {target[0]}x{target[1]} while decoding.")
        try:
            image.load()
            oriented = ImageOps.exif_transpose(image)
            if oriented.width * oriented.height > WORK_PIXELS:
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


def save_image_atomic(rgb: np.ndarray, path: str | os.PathLike, alpha: np.ndarray | None = None) -> Path:
    """Write an RGB uint8 array (with ``alpha`` for formats that keep it) via a temporary file and a rename, so
    ``path`` is never a partial image. The format follows the suffix."""
    path = Path(path)
    image = Image.fromarray(rgb)
    if alpha is not None and path.suffix.lower() in (".png", ".webp", ".tif", ".tiff"):
        image.putalpha(Image.fromarray(alpha))
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown image suffix {path.suffix!r}; use .png, .jpg or .webp.")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        image.save(tmp, format=fmt)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
