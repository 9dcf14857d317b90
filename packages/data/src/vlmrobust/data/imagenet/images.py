"""Image loading for indexed sets (RGB, optional border crop) and an opt-in full decode check."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, UnidentifiedImageError

from vlmrobust.data.imagenet.samples import ImageSet, OnError, Problems


class ImageDecodeError(OSError):
    """An image file cannot be decoded (corrupt, truncated, not an image); the message names the file."""


def load_image(path: str, border_crop: int = 0) -> Image.Image:
    """Decode ``path`` fully into an RGB image and crop ``border_crop`` pixels from every side.

    Raises:
        ImageDecodeError: the file is missing, truncated, corrupt or smaller than the crop.
    """
    try:
        with Image.open(path) as img:
            rgb = img.convert("RGB")  # forces a full decode, so truncation surfaces here
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ImageDecodeError(f"{path}: cannot decode image ({type(err).__name__}: {err})") from err
    if border_crop:
        w, h = rgb.size
        if w <= 2 * border_crop or h <= 2 * border_crop:
            raise ImageDecodeError(f"{path}: image {w}x{h} is too small for a {border_crop}-px border crop")
        rgb = rgb.crop((border_crop, border_crop, w - border_crop, h - border_crop))
    return rgb


def verify_images(image_set: ImageSet, *, on_error: OnError = "raise", num_workers: int = 8) -> ImageSet:
    """Decode every image once and raise on (or, with ``"skip"``, drop and count) the undecodable ones.

    Indexing never opens images; run this once over a new download to find corrupt or truncated files.

    Returns:
        ``image_set`` without the bad samples, their ``Skip`` records appended to ``skipped``.
    """
    problems = Problems(on_error, f"{image_set.name} at {image_set.root}")

    def check(i: int) -> bool:
        try:
            load_image(image_set.samples[i].path, image_set.border_crop)
        except ImageDecodeError as err:
            if on_error == "raise":
                raise
            problems(image_set.samples[i].path, str(err).split(": ", 1)[-1])
            return False
        return True

    with ThreadPoolExecutor(max(1, num_workers)) as pool:
        ok = list(pool.map(check, range(len(image_set))))
    kept = tuple(s for s, good in zip(image_set.samples, ok, strict=True) if good)
    skipped = problems.finish(len(kept))
    return dataclasses.replace(image_set, samples=kept, skipped=image_set.skipped + skipped)
