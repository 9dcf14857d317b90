"""``vlmrobust list runs --db FILE``: the runs a results store holds, with the config that identifies each."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vlmrobust.core.errors import CLIError
from vlmrobust.core.runs import config_diff, describe_diff
from vlmrobust.core.store import ResultsStore
from vlmrobust.core.tables import format_rows


def list_main(argv: list[str]) -> int:
    """One row per run key (name, created, cells, last step); for a name stored with several configs, the
    keys that differ from its previous run; ``--config`` prints every identity config in full."""
    parser = argparse.ArgumentParser(
        prog="vlmrobust list runs", description="List the runs of a results store."
    )
    parser.add_argument("--db", type=Path, required=True, help="the results store (results.db)")
    parser.add_argument("--name", default=None, help="only runs of this name")
    parser.add_argument("--config", action="store_true", help="print each run's identity config as JSON")
    args = parser.parse_args(argv)
    if not args.db.is_file():
        raise CLIError(f"{args.db}: no such results store")
    store = ResultsStore(args.db)
    runs = store.runs(**({"name": args.name} if args.name else {}))
    if runs.empty:
        print(f"{args.db}: no recorded runs" + (f" named {args.name!r}" if args.name else ""))
        return 0
    cells = store.cells(run=runs["run"].tolist())
    counts = cells.groupby("run").size().to_dict()
    steps = cells.groupby("run")["step"].max().to_dict()
    rows = [("run", "created (UTC)", "cells", "last step")]
    rows += [
        (r.run, r.created_at[:19], str(counts.get(r.run, 0)), str(steps.get(r.run, "-")))
        for r in runs.itertuples()
    ]
    previous: dict[str, dict] = {}
    for i, line in enumerate(format_rows(rows, left=2)):
        print(line)
        if i == 0:
            continue
        run = runs.iloc[i - 1]
        if run["name"] in previous:
            print(f"    differs from the previous {run['name']!r} run in "
                  f"{describe_diff(config_diff(previous[run['name']], run['config']))}")  # fmt: skip
        previous[run["name"]] = run["config"]
        if args.config:
            print(
                "\n".join(
                    "    " + line for line in json.dumps(run["config"], indent=2, sort_keys=True).splitlines()
                )
            )
    return 0
