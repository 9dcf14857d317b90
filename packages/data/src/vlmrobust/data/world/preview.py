"""Write a PNG grid of world samples (one row per domain) to eyeball the domains.

Run ``python -m vlmrobust.data.world.preview out.png`` or call :func:`save_grid`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw

from vlmrobust.data.world.domains import DOMAINS
from vlmrobust.data.world.generator import ProceduralWorld

_LABEL_WIDTH = 90  # pixels of the left column holding the domain names


def save_grid(
    path: str | Path,
    seed: int = 0,
    image_size: int = 32,
    domains: Sequence[str] | None = None,
    per_domain: int = 12,
    split: str = "eval",
    scale: int = 3,
    scenes: bool = True,
) -> Path:
    """Save a grid with ``per_domain`` samples of each domain (and a row of two-object scenes).

    Sample ``j`` of every row has the same index, hence the same class, so columns compare domains.

    Args:
        path: output PNG path (parent folders are created).
        seed: world seed.
        image_size: image side in pixels.
        domains: domains to show (default: all, ID first).
        per_domain: samples per row.
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
    grid = Image.new("RGB", (_LABEL_WIDTH + per_domain * (tile + pad), len(rows) * (tile + pad)), "white")
    draw = ImageDraw.Draw(grid)
    for r, (name, images) in enumerate(rows):
        y = r * (tile + pad)
        draw.text((4, y + tile // 2 - 5), name, fill="black")
        for c, img in enumerate(images):
            grid.paste(img.resize((tile, tile), Image.NEAREST), (_LABEL_WIDTH + c * (tile + pad), y))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.save(path)
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m vlmrobust.data.world.preview OUT.png [IMAGE_SIZE]``."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m vlmrobust.data.world.preview OUT.png [IMAGE_SIZE]", file=sys.stderr)
        return 2
    print(save_grid(argv[0], image_size=int(argv[1]) if len(argv) > 1 else 32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
