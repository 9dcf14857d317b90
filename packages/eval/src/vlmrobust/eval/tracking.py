"""W&B tracking that is online with a key and offline otherwise, never blocking on the network."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import WandbLogger
from lightning.pytorch.utilities import rank_zero_warn


def wandb_has_credentials() -> bool:
    """Return True when a W&B API key is configured (``WANDB_API_KEY`` or a netrc entry)."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        auth = netrc.netrc(os.environ.get("NETRC", Path.home() / ".netrc")).authenticators("api.wandb.ai")
    except (FileNotFoundError, netrc.NetrcParseError):
        return False
    return auth is not None


def resolve_wandb_offline(offline: bool | None = None) -> bool:
    """Decide whether W&B runs offline.

    An explicit ``offline`` wins; then ``WANDB_MODE`` (``offline``/``disabled`` vs ``online``); otherwise
    runs are online exactly when credentials are configured. Offline runs land in
    ``<save_dir>/wandb/offline-run-*`` and can be uploaded later with ``wandb sync``.
    """
    if offline is not None:
        return offline
    mode = os.environ.get("WANDB_MODE", "").lower()
    if mode in ("offline", "dryrun", "disabled"):
        return True
    if mode == "online":
        return False
    return not wandb_has_credentials()


class AutoWandbLogger(WandbLogger):
    """Lightning's ``WandbLogger`` that goes offline automatically when no W&B key is configured, and when
    an online start fails.

    Args:
        project: W&B project name.
        name: run name (shown in the W&B UI and used as the results-store run key).
        save_dir: directory that receives ``wandb/`` run files.
        offline: force offline (True) or online (False); ``None`` decides from ``WANDB_MODE`` and credentials.
        **kwargs: passed to ``WandbLogger`` (``group``, ``tags``, ``entity``, ``log_model`` …).
    """

    def __init__(
        self,
        project: str = "vlmrobust",
        name: str | None = None,
        save_dir: str = "outputs",
        offline: bool | None = None,
        **kwargs: Any,
    ) -> None:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("settings", _quiet_settings())
        super().__init__(
            project=project, name=name, save_dir=save_dir, offline=resolve_wandb_offline(offline), **kwargs
        )
        if (
            self._wandb_init.get("anonymous") is None
        ):  # Lightning passes anonymous=None, which W&B warns about
            self._wandb_init.pop("anonymous", None)

    @property
    def experiment(self) -> Any:
        """The W&B run (rank 0); an online start that fails (no network, W&B down, a bad key) falls back to an
        offline run in ``<save_dir>/wandb/`` with a warning, so training never stops for tracking."""
        if self._experiment is None and not self._offline:
            try:
                return WandbLogger.experiment.fget(self)
            except Exception as err:  # whatever stopped the online start, go offline
                rank_zero_warn(
                    f"W&B could not start online ({type(err).__name__}: {err}); logging offline under "
                    f"{self.save_dir}/wandb instead (upload later with `wandb sync`)"
                )
                self._offline = True
                self._wandb_init["mode"] = "offline"
        return WandbLogger.experiment.fget(self)


def _quiet_settings() -> Any:
    import wandb

    # No console capture or system-metrics thread: keeps runs light on a 2-core machine.
    return wandb.Settings(console="off", x_disable_stats=True, silent=True)
