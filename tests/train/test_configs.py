"""Every shipped fit config parses and runs (fast_dev_run, tiny data) through `vlmrobust fit`."""

from pathlib import Path

import pytest

from vlmrobust.data.captions import write_karpathy
from vlmrobust.data.imagenet import fixtures as imagenet_fixtures
from vlmrobust.data.imagenet import metadata as imagenet_metadata
from vlmrobust.train.cli import VlmrobustCLI

CONFIGS = sorted((Path(__file__).parents[2] / "configs" / "fit").glob("*.yaml"))
OVERRIDES = Path(__file__).parent / "config_overrides"


def test_configs_exist():
    assert CONFIGS, "configs/fit/ has no YAML configs"


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_header_names_its_command(config):
    first = config.read_text().splitlines()[0]
    assert first.startswith("# vlmrobust fit --config configs/fit/"), (
        f"{config}: first line must be the command"
    )


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_parses_as_shipped(config, capsys):
    with pytest.raises(SystemExit) as exit_:
        VlmrobustCLI(args=["fit", "--config", str(config), "--print_config"])
    assert exit_.value.code in (0, None)
    assert "class_path" in capsys.readouterr().out


def _prepare(overrides: Path, root: Path) -> None:
    """Write the synthetic data an overrides file says it needs (``# needs: <what>``)."""
    needs = [line.split(":", 1)[1].strip() for line in overrides.read_text().splitlines()
             if line.startswith("# needs:")]  # fmt: skip
    for need in needs:
        if need.startswith("karpathy-coco"):
            write_karpathy(root / "synthetic" / "coco", "coco", {"train": 6, "restval": 2})
        elif need.startswith("imagenet"):
            _write_imagenet(root / "synthetic" / "imagenet")
        else:
            raise ValueError(f"{overrides}: unknown need {need!r}")


def _write_imagenet(root: Path) -> None:
    """A tiny ImageNet: train (3 classes, 6 images), val (4 images, one in an ImageNet-R and one in an
    ImageNet-A class, so their paired ID sets are not empty) and -V2, -Sketch, -R, -A (3 images each)."""
    r, a = imagenet_metadata.imagenet_r_indices(), imagenet_metadata.imagenet_a_indices()
    imagenet_fixtures.write_imagenet_train(root / "train", {0: 2, 65: 2, 999: 2})
    imagenet_fixtures.write_val_folders(root / "val", {1: 65, 2: 970, 3: r[0], 4: a[0]})
    imagenet_fixtures.write_imagenet_v2(root / "v2")
    imagenet_fixtures.write_imagenet_sketch(root / "sketch")
    imagenet_fixtures.write_imagenet_r(root / "r")
    imagenet_fixtures.write_imagenet_a(root / "a")


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_config_runs_fast_dev_run(config, tmp_path, monkeypatch):
    """The shipped config plus its tiny overrides file (tests/train/config_overrides/<name>): only trainer
    keys are overridden here, so this works for every DataModule."""
    overrides = OVERRIDES / config.name
    assert overrides.exists(), f"{config.name} needs a tiny overrides file {overrides}"
    monkeypatch.chdir(tmp_path)  # relative output paths in the config land in tmp_path
    _prepare(overrides, tmp_path)
    cli = VlmrobustCLI(
        args=["fit", "--config", str(config), "--config", str(overrides), "--trainer.fast_dev_run", "2"],
    )
    assert cli.trainer.state.finished
    assert cli.trainer.fit_loop.epoch_loop.global_step == 2


def test_unknown_config_key_names_valid_keys(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    quickstart = next(c for c in CONFIGS if c.name == "quickstart.yaml")
    bad.write_text(quickstart.read_text().replace("lr: 0.001", "learning_rate: 0.001"))
    with pytest.raises(SystemExit):
        VlmrobustCLI(args=["fit", "--config", str(bad)], run=False)
    err = capsys.readouterr().err
    assert "\nvlmrobust fit: error: " in err  # the one error style of every vlmrobust command
    assert "unknown init arg 'learning_rate'" in err
    valid = err.split("Valid init args:")[1]
    assert "lr," in valid and "weight_decay" in valid and "model_seed" in valid


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (["--model.class_path", "vlmrobust.train.clip_finetune.CLIPFineTun"],
         "model: unknown class 'vlmrobust.train.clip_finetune.CLIPFineTun'. Did you mean "
         "'vlmrobust.train.clip_finetune.CLIPFineTune'"),
        (["--model.init_args.loss", "vlmrobust.train.losses.InfoNC"],
         "loss: unknown class 'vlmrobust.train.losses.InfoNC'. Did you mean 'vlmrobust.train.losses.InfoNCE'"),
        (["--data.class_path", "vlmrobust.data.datamodules.WorldDataModul"],
         "Valid classes: vlmrobust.data.datamodules.CaptionsDataModule, "
         "vlmrobust.data.datamodules.FeatureDataModule, vlmrobust.data.datamodules.ImageNetDataModule"),
        (["--trainer.strategy", "fsdp3"], "vlmrobust fit: error: unknown strategy 'fsdp3'. Did you mean 'fsdp'"),
    ],
)  # fmt: skip
def test_unknown_recipe_loss_datamodule_or_strategy_lists_the_valid_ones(override, expected, capsys):
    quickstart = next(c for c in CONFIGS if c.name == "quickstart.yaml")
    with pytest.raises(SystemExit):
        VlmrobustCLI(args=["fit", "--config", str(quickstart), "--trainer.logger", "false", *override])
    err = capsys.readouterr().err
    assert expected in err


def test_the_listed_choices_exist():
    import lightning.pytorch as pl

    from vlmrobust.train.config_errors import CHOICES
    from vlmrobust.train.losses import ContrastiveLoss

    bases = {"model": pl.LightningModule, "data": pl.LightningDataModule, "loss": ContrastiveLoss}
    for key, base in bases.items():
        for path in CHOICES[key]:
            module, _, name = path.rpartition(".")
            assert issubclass(getattr(__import__(module, fromlist=[name]), name), base), path
