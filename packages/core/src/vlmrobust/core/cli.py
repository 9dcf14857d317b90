"""The ``vlmrobust`` console script: a thin dispatcher over plugin subcommands.

Each workspace member registers its subcommands as entry points in the group
``vlmrobust.commands`` (``name = "module:function"``, the function taking ``argv``
and returning an exit code). Only the chosen subcommand's module is imported, so
``vlmrobust line`` never pays for torch, and a subcommand whose package is not
installed fails with the name of the package to install.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from vlmrobust.core.suggest import did_you_mean

COMMAND_GROUP = "vlmrobust.commands"

# Subcommands of the workspace members: the distribution that provides each, and its one-line summary
# (kept here so that `vlmrobust --help` imports nothing heavy).
KNOWN_PROVIDERS: dict[str, str] = {
    "fit": "vlmrobust-train",
    "validate": "vlmrobust-train",
    "test": "vlmrobust-train",
    "quickstart": "vlmrobust-train",
    "eval": "vlmrobust-eval",
    "line": "vlmrobust-eval",
    "theory": "vlmrobust-eval",
    "agreements": "vlmrobust-eval",
    "slopes": "vlmrobust-eval",
    "build-mcq": "vlmrobust-data",
    "list": "vlmrobust-models",
    "merge": "vlmrobust-core",
}
SUMMARIES: dict[str, str] = {
    "fit": "train a LightningModule from a config (LightningCLI)",
    "validate": "run the validation loop, e.g. of a checkpoint (--ckpt_path)",
    "test": "run the test loop",
    "quickstart": "the embedded robustness study on the procedural world",
    "eval": "models x eval sets x protocols into the results store (resumable, sharded)",
    "line": "fit robustness lines (per family) and effective robustness from a CSV or the store",
    "theory": "probit linearity in the Gaussian location model",
    "agreements": "pair accuracy binned by image-pair cosine (the erroneous-agreement analysis)",
    "slopes": "slopes of model groups (CNN vs ViT) per OOD set: ΔS, tan(Δ_S) with CIs, mCE",
    "build-mcq": "build K-way multiple-choice questions from classification sets",
    "list": "list models, eval sets or the runs of a results store",
    "merge": "merge the results stores of separate jobs",
}


def available_commands() -> dict[str, str]:
    """Return ``{subcommand: "module:function"}`` for every installed subcommand."""
    return {ep.name: ep.value for ep in entry_points(group=COMMAND_GROUP)}


def _resolve(name: str) -> Callable[[list[str]], int | None]:
    for ep in entry_points(group=COMMAND_GROUP):
        if ep.name == name:
            return ep.load()
    commands = available_commands()
    if name in KNOWN_PROVIDERS:
        package = KNOWN_PROVIDERS[name].removeprefix("vlmrobust-")
        raise SystemExit(
            f"vlmrobust: the '{name}' command is provided by {KNOWN_PROVIDERS[name]}, which is not "
            f"installed; install it from a checkout with `pip install ./packages/{package}` (or from git with "
            f"'#subdirectory=packages/{package}')."
        )
    raise SystemExit(f"vlmrobust: unknown command '{name}'. {did_you_mean(name, sorted(commands))}")


def _usage() -> str:
    commands = available_commands()
    lines = ["usage: vlmrobust <command> [args...]", "", "commands:"]
    lines += [
        f"  {name:<12} {SUMMARIES.get(name, target.split(':')[0])}"
        for name, target in sorted(commands.items())
    ]
    lines += ["", "Run `vlmrobust <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vlmrobust`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0
    command = _resolve(args[0])
    result = command(args[1:])
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
