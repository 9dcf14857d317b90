"""Every training command of the README parses as written, and its launcher agrees with its trainer flags.

Each ``fit`` line of the README's bash blocks (``vlmrobust fit``, ``-m vlmrobust.train.cli fit``, ``$CLI
fit``) is run through ``VlmrobustCLI`` with ``--print_config`` (``CONFIG`` stands for the quickstart config),
so a renamed flag or a config that pins a value the line cannot override fails here. The resolved trainer
must match the launcher: processes per node (``--nproc-per-node``, ``--devices``, ``--ntasks-per-node``) =
``trainer.devices``, nodes = ``trainer.num_nodes``, and a GPU-only strategy (FSDP) or a CUDA launcher must
not meet ``accelerator: cpu``.
"""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path

import pytest
import yaml

from vlmrobust.train.cli import VlmrobustCLI

ROOT = Path(__file__).parents[2]
STAND_IN = "configs/fit/quickstart.yaml"  # what CONFIG means in the README


def _bash_lines(text: str) -> list[str]:
    """Commands of the README's bash blocks, continuation lines joined, comments dropped."""
    lines: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        joined = block.replace("\\\n", " ")
        lines += [
            ln.split(" #")[0].strip()
            for ln in joined.splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")
        ]
    return lines


def _fit_commands() -> list[list[str]]:
    out = []
    for line in _bash_lines((ROOT / "README.md").read_text()):
        tokens = shlex.split(line)
        if any(
            a in ("vlmrobust", "vlmrobust.train.cli", "$CLI") and b == "fit"
            for a, b in itertools.pairwise(tokens)
        ):
            out.append(tokens)
    return out


COMMANDS = _fit_commands()


def test_the_readme_documents_the_launchers():
    launchers = {cmd[0] for cmd in COMMANDS}
    assert {"uv", "torchrun", "fabric", "srun"} <= launchers, launchers


def _flag(tokens: list[str], *names: str) -> str | None:
    for i, tok in enumerate(tokens):
        for name in names:
            if tok == name and i + 1 < len(tokens):
                return tokens[i + 1]
            if tok.startswith(f"{name}="):
                return tok.split("=", 1)[1]
    return None


@pytest.mark.parametrize("tokens", COMMANDS, ids=lambda t: " ".join(t)[:90])
def test_readme_fit_command_parses_and_matches_its_launcher(tokens, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    start = tokens.index("fit")
    launcher_args = tokens[:start]
    args = [STAND_IN if a == "CONFIG" else a for a in tokens[start + 1 :]]
    with pytest.raises(SystemExit) as done:
        VlmrobustCLI(args=["fit", *args, "--print_config"])
    assert done.value.code in (0, None), capsys.readouterr().err
    trainer = yaml.safe_load(capsys.readouterr().out)["trainer"]

    per_node = _flag(launcher_args, "--nproc-per-node", "--ntasks-per-node", "--devices")
    nodes = _flag(launcher_args, "--nnodes", "--num-nodes", "--nodes")
    if per_node is not None:
        assert str(trainer["devices"]) == per_node, f"{tokens[0]} starts {per_node} processes per node"
    if nodes is not None:
        assert str(trainer["num_nodes"]) == nodes, f"{tokens[0]} runs on {nodes} nodes"
    gpu_only = (
        str(trainer.get("strategy")).startswith("fsdp") or _flag(launcher_args, "--accelerator") == "cuda"
    )
    if gpu_only:
        assert trainer["accelerator"] != "cpu", "a GPU launch line meets a config that pins accelerator: cpu"
    for flag in ("strategy", "precision", "devices", "num_nodes", "accelerator"):
        value = _flag(args, f"--trainer.{flag}")
        if value is not None:
            got = trainer[flag]["class_path"] if isinstance(trainer[flag], dict) else trainer[flag]  # a class
            assert str(got) == value, flag
