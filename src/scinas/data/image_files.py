"""Reading one image file into a NumPy array, keeping its values.

TIFF files are read with tifffile (32-bit float and 16-bit images keep their values and type);
PNG, JPEG, BMP and GIF (first frame) with Pillow.  Palette and 1-bit images become 8-bit
grayscale or RGB; an alpha channel is dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scinas.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "read_image"]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff"})


def read_image(path: Path) -> np.ndarray:
    """``(h, w)`` or ``(h, w, c)`` array of ``path`` in its stored type; DataError if unreadable."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            array = np.asarray(tifffile.imread(path))
            if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[2] not in (1, 3, 4):
                array = np.moveaxis(array, 0, -1)  # stored channels-first
        else:
            from PIL import Image

            with Image.open(path) as opened:
                opened.seek(0)
                image: Image.Image = opened
                if opened.mode in ("P", "1", "LA", "PA"):
                    image = opened.convert("RGBA" if "A" in opened.mode or opened.mode == "P" else "L")
                array = np.asarray(image)
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from None
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    if array.ndim not in (2, 3) or array.size == 0:
        raise DataError(f"{path}: an image of shape {array.shape} is neither (h, w) nor (h, w, c)")
    return array
