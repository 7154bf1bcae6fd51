"""Reading the images users actually have, and writing results without ever leaving half a file.

Phone photos come rotated by EXIF, PNGs come 16-bit, paletted or with alpha, JPEGs come in CMYK, GIFs are
animated, and some files are truncated or are not images at all. :func:`load_image` turns each of these into an
RGB uint8 array (plus the alpha channel, which results carry through) or into a ``ValueError`` that names the
file and the problem. Decoding is bounded: a header announcing more than :data:`MAX_PIXELS` pixels is refused
as a decompression bomb before any pixel is decoded, and legal but huge images are downscaled while decoding.

Images already in memory go through :func:`as_image` (one image, kept as uint8 + alpha) or :func:`from_any`
(one or many, as model tensors). The one convention for torch input is the models' own: float ``(3, H, W)`` or
``(B, 3, H, W)`` in [-1, 1]; numpy input is ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)``, uint8 or float in [0, 1].
NaN or infinite values are refused at the door: they would otherwise turn into arbitrary pixels or indices.

Results are written by :func:`save_image_atomic`. Given the :class:`LoadedImage` an edit came from (``like``), it
writes the edit the way the source was stored: same mode and bit depth (grayscale stays grayscale, 16-bit stays
16-bit, with every pixel the edit did not change copied from the source), same EXIF orientation, EXIF, ICC
profile, DPI and PNG text, and JPEG's own quantisation tables and chroma subsampling (Pillow's
``quality="keep"``), so what the edit did not touch survives as well as the format allows.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import ExifTags, Image, ImageOps, JpegImagePlugin, PngImagePlugin, UnidentifiedImageError

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
#: Modes whose own pixels are kept beside the RGB copy, so an edit can be written back in them.
_KEPT_MODES = ("L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "CMYK")
#: Modes each output format can store; anything else is written as RGB (or RGBA when it has alpha).
_WRITABLE_MODES = {
    "JPEG": ("L", "RGB", "CMYK"),
    "PNG": ("L", "LA", "I;16", "RGB", "RGBA"),
    "TIFF": ("L", "LA", "I;16", "RGB", "RGBA", "CMYK"),
    "WEBP": ("RGB", "RGBA"),
}
#: EXIF orientations undone by ``ImageOps.exif_transpose`` and the transposition that redoes each.
_REDO_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}
#: TIFF compressions Pillow writes losslessly; others (JPEG-in-TIFF) fall back to LZW.
_TIFF_COMPRESSIONS = ("raw", "tiff_lzw", "tiff_deflate", "tiff_adobe_deflate", "packbits")
#: zlib level of PNG outputs. Every level is lossless; level 1 encodes a photo several times faster than Pillow's
#: default 6 for a slightly larger file (docs/performance.md, "Whole-photo latency").
PNG_COMPRESS_LEVEL = 1
#: Quality for lossy outputs whose source settings cannot be reused (a WebP source, or a JPEG from another format).
LOSSY_QUALITY = 95
_NOT_FINITE = "{name}: the image holds NaN or infinite values; pixels must be finite numbers."


@dataclass
class SourceFormat:
    """How a source image was stored, so an edit of it can be written the same way.

    ``pixels`` are the source's own pixels (oriented like :attr:`LoadedImage.rgb`) for modes the RGB copy does not
    hold exactly (grayscale, 16-bit, CMYK), else ``None``; ``depth_scale`` maps 8-bit steps to them (257 for
    16-bit). ``orientation`` is the EXIF orientation undone while loading; ``metadata`` holds what is written back
    (``exif``, ``icc_profile``, ``dpi``, PNG ``text``, JPEG ``qtables``/``subsampling``, TIFF ``compression``).
    """

    format: str | None
    mode: str
    pixels: np.ndarray | None = None
    depth_scale: int = 1
    orientation: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadedImage:
    """An image ready for the models: RGB uint8 (H, W, 3), the alpha channel if it had one, and notes on any
    conversion the user should know about (first frame of an animation, downscaling). ``stored`` describes the
    source's own mode, depth and metadata (see :func:`save_image_atomic`)."""

    rgb: np.ndarray
    alpha: np.ndarray | None
    source: str
    notes: list[str] = field(default_factory=list)
    stored: SourceFormat | None = None


def _to_uint8(image: Image.Image) -> np.ndarray:
    """Single-channel integer images (16-bit PNG) scaled to 8 bits by their bit depth, not clipped."""
    array = np.asarray(image)
    if array.dtype == np.uint8:
        return array
    if _depth_scale(image.mode, array) == 257:
        return (array.astype(np.float64) / 257.0).round().clip(0, 255).astype(np.uint8)
    if image.mode == "F":
        return (array.clip(0.0, 1.0) * 255.0).round().astype(np.uint8)
    return array.clip(0, 255).astype(np.uint8)


def _depth_scale(mode: str, array: np.ndarray) -> int:
    """How many of an integer image's own steps make one 8-bit step: 257 at 16 bits, else 1."""
    return 257 if mode.startswith("I;16") or (mode == "I" and array.max(initial=0) > 255) else 1


def _source_format(image: Image.Image, oriented: Image.Image, orientation: int) -> SourceFormat:
    """What :func:`save_image_atomic` needs to write an edit of ``image`` the way it was stored (``oriented`` is
    the decoded frame after the EXIF ``orientation`` was undone, as the models see it)."""
    info = image.info
    metadata: dict[str, Any] = {key: info[key] for key in ("exif", "icc_profile", "dpi") if info.get(key)}
    if isinstance(image, PngImagePlugin.PngImageFile) and image.text:
        metadata["text"] = dict(image.text)
    if isinstance(image, JpegImagePlugin.JpegImageFile):
        metadata["qtables"] = image.quantization
        metadata["subsampling"] = JpegImagePlugin.get_sampling(image)
        metadata["progressive"] = bool(info.get("progressive"))
    if image.format == "TIFF" and info.get("compression") in _TIFF_COMPRESSIONS:
        metadata["compression"] = info["compression"]
    pixels, scale = None, 1
    if oriented.mode in _KEPT_MODES:
        frame = oriented.getchannel(0) if oriented.mode == "LA" else oriented
        pixels = np.asarray(frame).copy()
        scale = _depth_scale(oriented.mode, pixels)
    return SourceFormat(image.format, oriented.mode, pixels, scale, orientation, metadata)


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
    # np.array copies PIL's pixels once into a writable array (asarray(...).copy() and convert() copy again)
    return np.array(image if image.mode == "RGB" else image.convert("RGB")), alpha


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
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
            oriented = ImageOps.exif_transpose(image)
            if downscale and oriented.width * oriented.height > WORK_PIXELS:
                scale = (WORK_PIXELS / (oriented.width * oriented.height)) ** 0.5
                oriented.thumbnail((int(oriented.width * scale) + 1, int(oriented.height * scale) + 1))
            if oriented.mode == "F" and not np.isfinite(np.asarray(oriented)).all():
                raise ValueError(_NOT_FINITE.format(name=name))
            rgb, alpha = _rgb_and_alpha(oriented)
            stored = _source_format(image, oriented, orientation if orientation in _REDO_ORIENTATION else 1)
        except ValueError as error:
            if str(error).startswith(name):
                raise
            raise ValueError(f"{name}: truncated or corrupt image data ({error}).") from error
        except (OSError, SyntaxError) as error:
            raise ValueError(f"{name}: truncated or corrupt image data ({error}).") from error
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise ValueError(
            f"{name}: {rgb.shape[1]}x{rgb.shape[0]} is too small; images need at least {MIN_SIDE} px on each side."
        )
    return LoadedImage(rgb=rgb, alpha=alpha, source=name, notes=notes, stored=stored)


def as_image(image: Any, name: str = "image") -> LoadedImage:
    """One image of any accepted kind (file path, PIL, numpy, torch; see the module docstring) as a
    :class:`LoadedImage`. PIL images of every mode go through the same conversion as files (16-bit scaled,
    palette and alpha kept); a 4-channel numpy array is RGB + alpha."""
    if isinstance(image, LoadedImage):
        return image
    if isinstance(image, (str, os.PathLike)):
        return load_image(image)
    if isinstance(image, Image.Image):
        if image.mode == "F" and not np.isfinite(np.asarray(image)).all():
            raise ValueError(_NOT_FINITE.format(name=name))
        rgb, alpha = _rgb_and_alpha(image)
        return LoadedImage(rgb=rgb, alpha=alpha, source=name, stored=_source_format(image, image, 1))
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
    if image.is_floating_point() and not bool(torch.isfinite(image).all()):
        raise ValueError(_NOT_FINITE.format(name=name))
    check_image(image[None], name)
    return image


def _checked_array(image: np.ndarray, name: str) -> np.ndarray:
    """A numpy image (H, W), (H, W, 3) or (H, W, 4), uint8 or float in [0, 1], or a ValueError."""
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise ValueError(f"{name}: numpy images must be (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}.")
    if np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise ValueError(_NOT_FINITE.format(name=name))
        if image.size and (image.min() < -RANGE_TOLERANCE or image.max() > 1 + RANGE_TOLERANCE):
            low, high = float(image.min()), float(image.max())
            raise ValueError(f"{name}: float numpy images must lie in [0, 1], got {low:.4g}..{high:.4g}.")
        return image.clip(0.0, 1.0)
    if image.dtype != np.uint8:
        raise ValueError(f"{name}: numpy images must be uint8 or float in [0, 1], got {image.dtype}.")
    return image


def in_source_mode(edited: np.ndarray | Image.Image, like: LoadedImage) -> Image.Image:
    """An RGB edit of ``like`` in the mode and bit depth the source was stored in, with its alpha.

    Pixels the edit left equal to ``like.rgb`` are the source's own (bit-identical, 16-bit included); changed
    pixels are converted (to luma for grayscale, so an edit adds no colour to a grayscale photo; at 16 bits the
    8-bit change is added to the source's value). Palette, bilevel and float sources come back as RGB(A). An RGB
    PIL edit of a source stored as RGB is returned as it is (no alpha to add): nothing needs converting.
    """
    stored = like.stored
    if stored is None or stored.pixels is None:
        if isinstance(edited, Image.Image) and edited.mode == "RGB":
            # already what is written: no copy into numpy and back (a 12-megapixel photo is 36 MB per copy)
            _check_same_shape((edited.height, edited.width, 3), like)
            result = edited
        else:
            result = Image.fromarray(_edit_array(edited, like))
        has_alpha = like.alpha is not None
    else:
        rgb = _edit_array(edited, like)
        changed = np.any(rgb != like.rgb, axis=2)
        pixels = stored.pixels.copy()
        if stored.mode == "CMYK":
            pixels[changed] = np.asarray(Image.fromarray(rgb).convert("CMYK"))[changed]
        else:
            luma = np.asarray(Image.fromarray(rgb).convert("L"))
            if stored.depth_scale == 1:
                pixels[changed] = luma[changed]
            else:
                step = luma[changed].astype(np.int64) - like.rgb[..., 0][changed].astype(np.int64)
                pixels = pixels.astype(np.int64)
                pixels[changed] += step * stored.depth_scale
                pixels = pixels.clip(0, 65535).astype(np.uint16)
        if stored.mode == "CMYK":  # a 4-channel array alone would be read as RGBA
            result = Image.frombytes("CMYK", (pixels.shape[1], pixels.shape[0]), pixels.tobytes())
        else:
            result = Image.fromarray(pixels)
        has_alpha = stored.mode == "LA"
    if has_alpha and like.alpha is not None:
        result = result.convert("LA" if result.mode == "L" else "RGBA")
        result.putalpha(Image.fromarray(like.alpha))
    return result


def _edit_array(edited: np.ndarray | Image.Image, like: LoadedImage) -> np.ndarray:
    """The edit as an (H, W, 3) RGB array of the source's size."""
    rgb = np.asarray(edited.convert("RGB") if isinstance(edited, Image.Image) else edited)
    _check_same_shape(rgb.shape, like)
    return rgb


def _check_same_shape(shape: tuple[int, ...], like: LoadedImage) -> None:
    if tuple(shape) != like.rgb.shape:
        raise ValueError(f"{like.source}: the edit is {tuple(shape)}, the source {like.rgb.shape}; they must match.")


def save_image_atomic(
    image: np.ndarray | Image.Image,
    path: str | os.PathLike,
    alpha: np.ndarray | None = None,
    like: LoadedImage | None = None,
) -> Path:
    """Write an image via a temporary file in the same folder and a rename, so ``path`` is never a partial image.

    ``image`` is an RGB uint8 array or a PIL image, plus ``alpha`` for formats that keep it. With ``like`` (the
    :class:`LoadedImage` the image is an edit of), it is written the way the source was stored: see
    :func:`in_source_mode` for mode and depth, and the module docstring for metadata. The format follows the
    suffix; a mode the format cannot hold becomes RGB(A). Writing goes through :func:`atomic_path`.
    """
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: unknown image suffix {path.suffix!r}; use .png, .jpg or .webp.")
    options: dict[str, Any] = {}
    if like is not None:
        picture = in_source_mode(image, like)
        if like.stored is not None:
            picture = _redo_orientation(picture, like.stored.orientation)
            options = _save_options(fmt, like.stored)
    else:
        picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
        if alpha is not None:
            picture = picture.convert("RGB")
            picture.putalpha(Image.fromarray(alpha))
    if fmt == "PNG":
        options["compress_level"] = PNG_COMPRESS_LEVEL
    if picture.mode not in _WRITABLE_MODES.get(fmt, (picture.mode,)):
        picture = picture.convert("RGBA" if picture.has_transparency_data and fmt != "JPEG" else "RGB")
    with atomic_path(path) as tmp:
        picture.save(tmp, format=fmt, **options)
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A new hidden file beside ``path`` for the block to write; renamed over ``path`` when the block succeeds and
    removed when it fails, so ``path`` is never a partial file.

    The file is created with mode 0o666, so the umask decides its permissions as for any new file
    (``tempfile.mkstemp`` makes 0o600 files, and the rename would keep that). Errors name ``path``, never the
    temporary file.
    """
    path = Path(path)
    if path.is_dir():
        raise OSError(f"{path}: is a folder; cannot write a file there.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create_temporary(path)
    except OSError as error:
        raise OSError(f"{path}: cannot write ({error.strerror or error}).") from error
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        raise OSError(f"{path}: cannot write ({error.strerror or error}).") from error
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def follow_umask(folder: str | os.PathLike) -> None:
    """Give every file below ``folder`` the permissions the umask gives a new file.

    Why: safetensors writes weight files with mode 0o600 whatever the umask, so a model folder saved for others to
    read would be readable by its owner only. The umask is read by creating a probe file (``os.umask`` cannot be
    read without setting it, which would race with other threads).
    """
    folder = Path(folder)
    probe = _create_temporary(folder / "umask-probe")
    try:
        mode = probe.stat().st_mode & 0o777
    finally:
        probe.unlink()
    for file in folder.rglob("*"):
        if file.is_file() and not file.is_symlink():
            os.chmod(file, mode)


def _create_temporary(path: Path) -> Path:
    """A new empty hidden file beside ``path``, created exclusively with mode 0o666 (less the umask)."""
    for _ in range(100):
        tmp = path.with_name(f".{path.stem}-{secrets.token_hex(6)}{path.suffix}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"could not create a temporary file beside {path}")


def _redo_orientation(picture: Image.Image, orientation: int) -> Image.Image:
    """The picture stored the way its source was (its EXIF orientation, written back unchanged, turns it again)."""
    method = _REDO_ORIENTATION.get(orientation)
    return picture if method is None else picture.transpose(method)


def _save_options(fmt: str, stored: SourceFormat) -> dict[str, Any]:
    """Pillow ``save`` options writing ``fmt`` with the source's metadata and, for JPEG to JPEG, its own
    quantisation tables and subsampling (what ``quality="keep"`` does, which Pillow allows only on the source
    image object itself)."""
    metadata = stored.metadata
    options: dict[str, Any] = {key: metadata[key] for key in ("exif", "icc_profile") if key in metadata}
    if "dpi" in metadata and fmt in ("JPEG", "PNG", "TIFF"):
        options["dpi"] = metadata["dpi"]
    if fmt == "JPEG":
        if stored.format == "JPEG":
            options.update(qtables=metadata["qtables"], subsampling=metadata["subsampling"])
            options["progressive"] = metadata["progressive"]
        else:
            options.update(quality=LOSSY_QUALITY, subsampling=0)
    elif fmt == "PNG" and "text" in metadata:
        text = PngImagePlugin.PngInfo()
        for key, value in metadata["text"].items():
            text.add_text(key, value)
        options["pnginfo"] = text
    elif fmt == "WEBP":
        options["quality"] = LOSSY_QUALITY
    elif fmt == "TIFF":
        options["compression"] = metadata.get("compression", "tiff_lzw")
    return options
