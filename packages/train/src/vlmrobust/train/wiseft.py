"""WiSE-FT (Wortsman et al., CVPR 2022): evaluate the weight-space ensembles θ(α) of a fine-tuning run.

θ(α) = (1 − α)·θ_start + α·θ_end, with θ_start the weights the fit started from (the zero-shot model, and
for ``CLIPFineTune(objective="cross_entropy")`` its zero-shot-initialised head) and θ_end the fine-tuned
ones. Every α is validated by the trainer's ``RobustnessCallback`` and stored as its own run
(``<run name>-wiseft<α>``, its config extended by ``wise_ft_alpha``), at the fit's final step, so the
whole curve lies in the probit plane beside the zero-shot (α = 0) and fine-tuned (α = 1) points.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import torch

from vlmrobust.eval.robustness_callback import RobustnessCallback
from vlmrobust.train.export import ExportModel, interpolate_weights


class WiseFT(pl.Callback):
    """Keep θ_start from the start of fit (in the checkpoint too, so a resumed fit mixes with the weights the
    first one started from) and, in :meth:`evaluate` after fit, validate θ(α) for every α.

    ``vlmrobust fit`` calls :meth:`evaluate` once ``fit`` returns; from Python, call it after
    ``trainer.fit``. With ``export`` and an ``ExportModel`` callback on the trainer, each θ(α) is also
    written beside the exported model as ``<stem>-wiseft-<α>.safetensors``, a model spec for ``vlmrobust
    eval``.

    Args:
        alphas: mixing weights α in [0, 1], each validated (and stored) as its own run.
        export: also write every θ(α) through the trainer's ``ExportModel``.
    """

    def __init__(
        self,
        alphas: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),  # mixing weights, each its own run
        export: bool = False,  # write each θ(α) beside ExportModel's file
    ) -> None:
        if not alphas or any(not 0 <= a <= 1 for a in alphas):
            raise ValueError(f"WiseFT alphas must be a non-empty list in [0, 1], got {list(alphas)}")
        self.alphas, self.export = tuple(float(a) for a in alphas), export
        self.start: dict[str, torch.Tensor] | None = None  # θ_start on CPU
        self.runs: dict[float, str] = {}  # α -> run key, after evaluate
        self.paths: dict[float, Any] = {}  # α -> file written (rank 0), after evaluate with export

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        from lightning.pytorch.strategies import ModelParallelStrategy

        if isinstance(trainer.strategy, ModelParallelStrategy):  # fail before training, not after it
            raise NotImplementedError(
                "WiseFT swaps full state dicts in and out of the module, which sharded (FSDP2) modules do not "
                "support yet; train under DDP, or export the fine-tuned model and mix it with "
                "vlmrobust.train.export.interpolate_weights"
            )

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.start is None:  # a resumed fit restored it from the checkpoint
            self.start = _cpu(trainer.strategy.lightning_module_state_dict())

    def state_dict(self) -> dict[str, Any]:
        return {"start": self.start}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.start = state_dict["start"]

    def evaluate(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        datamodule: pl.LightningDataModule | None = None,
    ) -> dict[float, str]:
        """Validate θ(α) for every α as its own run; restore θ_end; return α -> run key.

        Raises:
            RuntimeError: no fit ran (no θ_start) or the trainer has no ``RobustnessCallback``.
        """
        if self.start is None:
            raise RuntimeError(
                "WiseFT.evaluate needs the weights of a fit's start: call it after trainer.fit"
            )
        robustness = _the(trainer, RobustnessCallback)
        if robustness is None:
            raise RuntimeError("WiseFT stores each α through a RobustnessCallback; the trainer has none")
        exporter = _the(trainer, ExportModel) if self.export else None
        if self.export and exporter is None:
            raise RuntimeError(
                "WiseFT(export=True) writes through an ExportModel callback; the trainer has none"
            )
        end = _cpu(trainer.strategy.lightning_module_state_dict())
        datamodule = datamodule if datamodule is not None else trainer.datamodule
        try:
            for alpha in self.alphas:
                _load(trainer, pl_module, interpolate_weights(self.start, end, alpha))
                robustness.set_variant(f"wiseft{alpha:g}", {"wise_ft_alpha": alpha})
                trainer.validate(pl_module, datamodule=datamodule, verbose=False)
                self.runs[alpha] = str(robustness.run)
                if exporter is not None:
                    path = exporter.write(
                        trainer, pl_module, f"-wiseft-{alpha:g}", wise_ft_alpha=f"{alpha:g}"
                    )
                    self.paths[alpha] = path
        finally:
            robustness.set_variant(None)
            _load(trainer, pl_module, end)
        return dict(self.runs)


def _cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


def _load(trainer: pl.Trainer, pl_module: pl.LightningModule, state: dict[str, torch.Tensor]) -> None:
    trainer.strategy.load_model_state_dict({"state_dict": state}, strict=True)


def _the(trainer: pl.Trainer, kind: type) -> Any:
    found = [cb for cb in trainer.callbacks if isinstance(cb, kind)]
    return found[0] if found else None
