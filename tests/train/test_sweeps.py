"""Every W&B sweep config expands to `vlmrobust fit` commands that LightningCLI accepts."""

import itertools
from pathlib import Path

import pytest
import yaml

from vlmrobust.train.cli import VlmrobustCLI

ROOT = Path(__file__).parents[2]
SWEEPS = sorted((ROOT / "configs" / "sweeps").glob("*.yaml"))


def _trials(sweep: dict) -> list[list[str]]:
    """The argv of each grid trial, built as the W&B agent builds it (`${args}` = `--key=value`)."""
    names = list(sweep["parameters"])
    grids = [sweep["parameters"][n].get("values", [sweep["parameters"][n].get("value")]) for n in names]
    trials = []
    for combo in itertools.product(*grids):
        args = [f"--{n}={v}" for n, v in zip(names, combo, strict=True)]
        cmd = [a for c in sweep["command"] for a in (args if c == "${args}" else [c]) if a != "${env}"]
        trials.append(cmd)
    return trials


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.name)
def test_sweep_trials_parse(path, monkeypatch):
    sweep = yaml.safe_load(path.read_text())
    assert path.read_text().startswith("# wandb sweep configs/sweeps/")
    monkeypatch.chdir(ROOT)  # the agent runs from the repo root: config paths are relative to it
    trials = _trials(sweep)
    assert trials and all(t[:2] == ["vlmrobust", "fit"] for t in trials)
    for argv in trials:
        cli = VlmrobustCLI(args=argv[2:], run=False)  # no subcommand when not running; fails on bad keys
        for arg in argv:
            if arg.startswith("--model.init_args.lr="):
                assert cli.model.hparams.lr == pytest.approx(float(arg.split("=")[1]))
            if arg.startswith("--data.init_args.train_size="):
                assert cli.datamodule.train_size == int(arg.split("=")[1])
