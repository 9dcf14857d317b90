"""Every shipped fit config parses and runs (fast_dev_run, tiny data) through `vlmrobust fit`."""

from pathlib import Path

import pytest

from vlmrobust.train.cli import VlmrobustCLI

CONFIGS = sorted((Path(__file__).parents[2] / "configs" / "fit").glob("*.yaml"))


def test_configs_exist():
    assert CONFIGS, "configs/fit/ has no YAML configs"


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_header_names_its_command(config):
    first = config.read_text().splitlines()[0]
    assert first.startswith("# vlmrobust fit --config configs/fit/"), (
        f"{config}: first line must be the command"
    )


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_runs_fast_dev_run(config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative output paths in the config land in tmp_path
    cli = VlmrobustCLI(
        args=[
            "fit",
            "--config",
            str(config),
            "--trainer.fast_dev_run",
            "2",
            "--data.init_args.train_size",
            "32",
            "--data.init_args.eval_size",
            "8",
            "--data.init_args.batch_size",
            "8",
        ],
    )
    assert cli.trainer.global_step == 2
    assert cli.trainer.state.finished


def test_unknown_config_key_names_valid_keys(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(CONFIGS[0].read_text().replace("lr: 0.001", "learning_rate: 0.001"))
    with pytest.raises(SystemExit):
        VlmrobustCLI(args=["fit", "--config", str(bad)], run=False)
    err = capsys.readouterr().err
    assert "\nvlmrobust fit: error: " in err  # the one error style of every vlmrobust command
    assert "unknown init arg 'learning_rate'" in err
    valid = err.split("Valid init args:")[1]
    assert "lr," in valid and "weight_decay" in valid and "model_seed" in valid
