"""Write a PNG grid of world samples (one row per domain, one column per class, named) to eyeball the domains.

Run ``python -m vlmrobust.data.world.preview out.png [--seed S] [--image-size N]`` or call :func:`save_grid`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from vlmrobust.data.world.classes import CLASS_NAMES
from vlmrobust.data.world.domains import DOMAINS
from vlmrobust.data.world.generator import ProceduralWorld

_LABEL_WIDTH = 90  # pixels of the left column holding the domain names
_HEADER = 14  # pixels of the top row holding the class names


def save_grid(
    path: str | Path,
    seed: int = 0,
    image_size: int = 32,
    domains: Sequence[str] | None = None,
    per_domain: int = len(CLASS_NAMES),
    split: str = "eval",
    scale: int = 3,
    scenes: bool = True,
) -> Path:
    """Save a grid with ``per_domain`` samples of each domain (and a row of two-object scenes).

    Sample ``j`` of every row has the same index, hence the same class (index mod the number of classes),
    so columns compare domains; the default shows every class once, its name above its column.

    Args:
        path: output PNG path (parent folders are created).
        seed: world seed.
        image_size: image side in pixels.
        domains: domains to show (default: all, ID first).
        per_domain: samples per row (columns; the class of column ``j`` is ``j`` mod the class count).
        split: ``"train"`` or ``"eval"``.
        scale: nearest-neighbour upscaling factor of each tile.
        scenes: add a last row of two-object scenes.

    Returns:
        The path written.
    """
    world = ProceduralWorld(seed, image_size)
    names = list(domains or DOMAINS)
    rows: list[tuple[str, list[Image.Image]]] = [
        (d, [world.sample(d, split, i).image for i in range(per_domain)]) for d in names
    ]
    if scenes:
        rows.append(("scenes", [world.scene(split, i).image for i in range(per_domain)]))
    tile, pad = image_size * scale, 2
    size = (_LABEL_WIDTH + per_domain * (tile + pad), _HEADER + len(rows) * (tile + pad))
    grid = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(grid)
    for c in range(per_domain):
        name = world.class_names[world.label(c)]
        draw.text((_LABEL_WIDTH + c * (tile + pad) + 2, 1), name[: max(1, tile // 6)], fill="black")
    for r, (name, images) in enumerate(rows):
        y = _HEADER + r * (tile + pad)
        draw.text((4, y + tile // 2 - 5), name, fill="black")
        for c, img in enumerate(images):
            grid.paste(img.resize((tile, tile), Image.NEAREST), (_LABEL_WIDTH + c * (tile + pad), y))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m vlmrobust.data.world.preview OUT.png [--seed S] [--image-size N] [--split eval|train]``."""
    parser = argparse.ArgumentParser(
        prog="python -m vlmrobust.data.world.preview", description=__doc__.splitlines()[0]
    )
    parser.add_argument("out", type=Path, help="PNG file to write")
    parser.add_argument("--seed", type=int, default=0, help="world seed")
    parser.add_argument("--image-size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--split", choices=("eval", "train"), default="eval", help="split to draw from")
    parser.add_argument("--no-scenes", action="store_true", help="leave out the row of two-object scenes")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    print(
        save_grid(
            args.out, seed=args.seed, image_size=args.image_size, split=args.split, scenes=not args.no_scenes
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
