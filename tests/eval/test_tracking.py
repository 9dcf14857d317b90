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
