"""W&B goes offline without credentials and honours WANDB_MODE and explicit choices."""

import pytest

from vlmrobust.eval.tracking import resolve_wandb_offline, wandb_has_credentials


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "missing-netrc"))


def test_offline_without_credentials(no_credentials):
    assert not wandb_has_credentials()
    assert resolve_wandb_offline() is True


def test_online_with_api_key(no_credentials, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolve_wandb_offline() is False


def test_online_with_netrc_entry(no_credentials, monkeypatch, tmp_path):
    rc = tmp_path / "netrc"
    rc.write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")
    rc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(rc))
    assert wandb_has_credentials()
    assert resolve_wandb_offline() is False


@pytest.mark.parametrize(("mode", "expected"), [("offline", True), ("disabled", True), ("online", False)])
def test_wandb_mode_env_wins_over_credentials(no_credentials, monkeypatch, mode, expected):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_MODE", mode)
    assert resolve_wandb_offline() is expected


def test_explicit_argument_wins(no_credentials, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    assert resolve_wandb_offline(offline=False) is False


def test_a_failed_online_start_falls_back_to_offline_and_training_goes_on(tmp_path, monkeypatch):
    import lightning.pytorch as pl
    import wandb

    from vlmrobust.data.datamodules import WorldDataModule
    from vlmrobust.eval.tracking import AutoWandbLogger
    from vlmrobust.train.clip_finetune import CLIPFineTune

    monkeypatch.delenv("WANDB_MODE", raising=False)
    real_init, modes = wandb.init, []

    def init(**kwargs):
        modes.append(kwargs.get("mode"))
        if kwargs.get("mode") != "offline":
            raise wandb.errors.CommError("no route to api.wandb.ai")  # what a machine without network gets
        return real_init(**kwargs)

    monkeypatch.setattr(wandb, "init", init)
    logger = AutoWandbLogger(name="fallback", save_dir=str(tmp_path), offline=False)
    trainer = pl.Trainer(accelerator="cpu", max_steps=2, logger=logger, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                         log_every_n_steps=1, default_root_dir=tmp_path)  # fmt: skip
    with pytest.warns(UserWarning, match="W&B could not start online .*CommError.*logging offline"):
        trainer.fit(
            CLIPFineTune(model_seed=0), datamodule=WorldDataModule(train_size=16, eval_size=4, batch_size=8)
        )
    wandb.finish()
    assert trainer.global_step == 2 and modes == [None, "offline"]
    assert list((tmp_path / "wandb").glob("offline-run-*"))
