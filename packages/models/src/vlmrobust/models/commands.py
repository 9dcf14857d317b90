"""``vlmrobust list <what> …``: show what the registries know.

``list models`` is served here. Other members add listings without this package importing them (the DAG
forbids models -> data): each registers ``<what> = "module:function"`` in the entry-point group
``vlmrobust.listings`` (e.g. ``evalsets = "vlmrobust.data.registry:list_main"``), and the function, called
with the arguments after ``<what>``, is imported only when that listing is asked for.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from vlmrobust.core.errors import CLIError, cli_main
from vlmrobust.core.suggest import did_you_mean
from vlmrobust.models.spec import BACKENDS

LISTING_GROUP = "vlmrobust.listings"


def listings() -> dict[str, str]:
    """``{what: "module:function"}`` of every listing other installed members register."""
    return {ep.name: ep.value for ep in entry_points(group=LISTING_GROUP)}


@cli_main("list")
def list_main(argv: list[str]) -> int:
    """Entry point of ``vlmrobust list <what> [args]``: ``models`` here, other listings via entry points."""
    what, rest = (argv[0], argv[1:]) if argv else (None, [])
    if what is None or what in ("-h", "--help"):
        names = ", ".join(["models", *sorted(listings())])
        print(f"usage: vlmrobust list <what> [args...]\n\nwhat: {names}\n\n"
              "Run `vlmrobust list <what> --help` for its options.")  # fmt: skip
        return 0 if what else 2
    if what == "models":
        return _list_models(rest)
    for ep in entry_points(group=LISTING_GROUP):
        if ep.name == what:
            return int(ep.load()(rest) or 0)
    raise CLIError(f"cannot list {what!r}. {did_you_mean(what, ['models', *listings()], 'listings')}")


def _list_models(argv: list[str]) -> int:
    """``vlmrobust list models [--backend B] [--filter SUBSTR] [--available]``: one spec per line, grouped
    under a ``# <backend> (<count>)`` header per backend."""
    parser = argparse.ArgumentParser(prog="vlmrobust list models", description="List registered model specs.")
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
    parser.add_argument(
        "--available", action="store_true", help="only models whose weights are on this machine (offline)"
    )
    args = parser.parse_args(argv)

    from vlmrobust.models.registry import list_models

    specs = list_models(args.backend, cache_dir=args.cache_dir, available=args.available)
    if args.filter:
        specs = [s for s in specs if args.filter.lower() in s.lower()]
    if specs:
        for backend in BACKENDS:
            group = [s for s in specs if s.startswith(f"{backend}:")]
            if group:
                print(f"# {backend} ({len(group)})")
                print("\n".join(group))
    else:
        kind = f"{args.backend} models" if args.backend else "models"
        print(f"no {kind} match", file=sys.stderr)
    return 0
