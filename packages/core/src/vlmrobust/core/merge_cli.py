"""``vlmrobust merge OUT IN [IN ...]``: combine the results stores of separate jobs into ``OUT``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import get_args

from vlmrobust.core.errors import cli_main
from vlmrobust.core.merge import OnConflict, merge_stores
from vlmrobust.core.store import StoreError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vlmrobust merge",
        description="Merge the cells and per-sample predictions of several results stores (e.g. one per "
        "SLURM array task or host) into OUT, in one transaction. Identical rows merge silently; different "
        "rows under one key are refused (nothing is written) unless --on-conflict newer.",
    )
    parser.add_argument(
        "out", type=Path, metavar="OUT", help="merged store; created if missing, else merged too"
    )
    parser.add_argument(
        "inputs", type=Path, nargs="+", metavar="IN", help="input stores, merged in this order"
    )
    parser.add_argument(
        "--on-conflict",
        choices=get_args(OnConflict),
        default="refuse",
        help="refuse: write nothing on differing rows (default); newer: keep the cell with the later "
        "updated_at and the prediction of the input listed later",
    )
    return parser


@cli_main("merge", expected=(StoreError,))
def main(argv: list[str]) -> int:
    """Run ``vlmrobust merge``; print a one-paragraph summary."""
    args = _parser().parse_args(argv)
    print(merge_stores(args.out, args.inputs, on_conflict=args.on_conflict).summary())
    return 0
