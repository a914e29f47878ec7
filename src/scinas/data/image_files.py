"""Reading one image file into a NumPy array, keeping its values.

TIFF files are read with tifffile (32-bit float and 16-bit images keep their values and type);
PNG, JPEG, BMP and GIF (first frame) with Pillow, 16-bit PNG staying 16-bit.  Bilevel images
become 8-bit grayscale, palette images RGB, CMYK/YCbCr/Lab/HSV images RGB; an alpha channel
is dropped (grayscale with alpha stays grayscale).  A TIFF keeps all its samples (scientific
images may have any number of channels) except a declared alpha; a stack of planes (separate
samples, channels or pages) becomes the channels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scinas.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "read_image"]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff"})

# Pillow modes whose pixels NumPy gets as they are (alpha-carrying ones lose it below).
_KEPT_MODES = frozenset({"L", "RGB", "RGBA", "I", "F", "I;16", "I;16B", "I;16L", "I;16N"})
_GRAY_WITH_ALPHA = frozenset({"LA", "La"})


def read_image(path: Path) -> np.ndarray:
    """``(h, w)`` or ``(h, w, c)`` array of ``path`` in its stored type; DataError if unreadable.

    Example::

        read_image(Path("cells/healthy/0001.tif")).dtype   # float32 for a float TIFF
    """
    try:
        array = _read_tiff(path) if path.suffix.lower() in (".tif", ".tiff") else _read_pillow(path)
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from None
    if array.ndim not in (2, 3) or array.size == 0:
        raise DataError(f"{path}: an image of shape {array.shape} is neither (h, w) nor (h, w, c)")
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * np.uint8(255)
    return array


def _read_tiff(path: Path) -> np.ndarray:
    """All samples of the first image as stored (scientific TIFFs may have any number of
    channels); planes stored first (separate samples, channel or page stacks) become the
    channels, and only a declared alpha is dropped."""
    import tifffile

    with tifffile.TiffFile(path) as tiff:
        series = tiff.series[0]
        array = np.asarray(series.asarray())
        axes = series.axes
        extras = getattr(tiff.pages[0], "extrasamples", ())
        alpha = sum(int(extra) in (1, 2) for extra in extras)  # associated or unassociated alpha
    if array.ndim == 3 and axes[1:] == "YX":  # planes (samples, channels or pages) first
        array = np.moveaxis(array, 0, -1)
    if alpha and array.ndim == 3 and array.shape[2] > alpha:
        array = array[:, :, : array.shape[2] - alpha]
    return array


def _read_pillow(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as opened:
        opened.seek(0)  # the first frame of an animation
        image: Image.Image = opened
        if opened.mode == "1":
            image = opened.convert("L")
        elif opened.mode in _GRAY_WITH_ALPHA:
            image = opened.convert("LA")
        elif opened.mode in ("P", "PA"):
            image = opened.convert("RGBA")
        elif opened.mode not in _KEPT_MODES:  # CMYK, YCbCr, LAB, HSV, RGBX, ...
            image = opened.convert("RGB")
        array = np.asarray(image)
    if image.mode in ("LA", "RGBA"):
        array = array[:, :, :-1]
    return array
