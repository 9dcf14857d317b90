"""``vlmrobust list …``: show what the registries know."""

from __future__ import annotations

import argparse
import sys

from vlmrobust.core.errors import cli_main
from vlmrobust.models.spec import BACKENDS


@cli_main("list")
def list_main(argv: list[str]) -> int:
    """Entry point of ``vlmrobust list models [--backend B] [--filter SUBSTR]``; prints one spec per line."""
    parser = argparse.ArgumentParser(prog="vlmrobust list", description="List registered model specs.")
    parser.add_argument("what", choices=["models"], help="what to list")
    parser.add_argument("--backend", choices=BACKENDS, default=None, help="only this backend's models")
    parser.add_argument(
        "--filter", default=None, metavar="SUBSTR", help="only specs containing SUBSTR (case-insensitive)"
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="Hugging Face cache listed for hf: (default: the hub cache)",
    )
    args = parser.parse_args(argv)

    from vlmrobust.models.registry import list_models

    specs = list_models(args.backend, cache_dir=args.cache_dir)
    if args.filter:
        specs = [s for s in specs if args.filter.lower() in s.lower()]
    if specs:
        print("\n".join(specs))
    else:
        kind = f"{args.backend} models" if args.backend else "models"
        print(f"no {kind} match", file=sys.stderr)
    return 0
