"""Export the trained model of a fit as one consolidated safetensors file, loadable by its model spec, and
WiSE-FT's interpolation of two sets of weights."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import lightning.pytorch as pl
import torch


def interpolate_weights(
    zero_shot: Mapping[str, torch.Tensor], fine_tuned: Mapping[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """WiSE-FT: θ(α) = (1 − α)·θ_zero-shot + α·θ_fine-tuned for every floating tensor (others, e.g. integer
    buffers, from the fine-tuned model); α = 0 and α = 1 return the two inputs exactly.

    Raises:
        ValueError: the two state dicts differ in keys or in a tensor's shape (named).
    """
    if zero_shot.keys() != fine_tuned.keys():
        diff = sorted(zero_shot.keys() ^ fine_tuned.keys())
        raise ValueError(f"WiSE-FT needs the same tensors in both models; only in one: {diff[:5]}")
    out = {}
    for key, tuned in fine_tuned.items():
        start = zero_shot[key]
        if start.shape != tuned.shape:
            raise ValueError(f"WiSE-FT: tensor {key} has shape {tuple(start.shape)} and {tuple(tuned.shape)}")
        if alpha == 0:
            out[key] = start.clone()
        elif alpha == 1 or not tuned.is_floating_point():
            out[key] = tuned.clone()
        else:
            out[key] = torch.lerp(start.to(tuned.dtype), tuned, alpha)
    return out


class ExportModel(pl.Callback):
    """At the end of ``fit``, write the LightningModule's model weights as ``<dirpath>/<filename>``.

    The state dict comes from the strategy (``lightning_module_state_dict``, gathered in full on rank 0
    under sharded strategies) and keeps the keys under ``prefix`` with the prefix removed, so the file holds
    the bare architecture's weights: ``open_clip:<arch>@<dirpath>/<filename>`` is then a model spec wherever
    one is taken (``vlmrobust eval``, ``load_scorer``), like the Lightning checkpoint itself. ``WiseFT``
    writes its θ(α) files through :meth:`write` beside it.

    Args:
        dirpath: folder of the file (``None``: the checkpoint callback's folder, else ``default_root_dir``).
        filename: file name, ending in ``.safetensors``.
        prefix: attribute path of the model inside the LightningModule (``CLIPFineTune``: ``scorer.model.``).
    """

    def __init__(
        self,
        dirpath: str | None = None,
        filename: str = "model.safetensors",
        prefix: str = "scorer.model.",
    ) -> None:
        if not filename.endswith(".safetensors"):
            raise ValueError(
                f"ExportModel writes safetensors; filename must end in .safetensors, got {filename!r}"
            )
        self.dirpath, self.filename, self.prefix = dirpath, filename, prefix
        self.path: Path | None = None  # the file written (rank 0), after fit

    def _weights(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, torch.Tensor]:
        """The full weights under ``prefix`` on rank 0 (a collective under sharded strategies: FSDP2's
        ``consolidated_state_dict`` gathers them there, whatever its checkpoint format); ``{}`` elsewhere."""
        strategy = trainer.strategy
        full = getattr(strategy, "consolidated_state_dict", strategy.lightning_module_state_dict)
        state = full()
        if not trainer.is_global_zero:
            return {}
        weights = {k.removeprefix(self.prefix): v for k, v in state.items() if k.startswith(self.prefix)}
        if not weights:
            raise KeyError(
                f"ExportModel: no weights under prefix {self.prefix!r} in {type(pl_module).__name__}; its keys "
                f"start with {sorted({k.split('.')[0] for k in state})}"
            )
        return weights

    def write(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, suffix: str = "", **metadata: str
    ) -> Path | None:
        """Write the module's current model weights as ``<stem><suffix>.safetensors`` (rank 0; a collective
        under sharded strategies, so every rank calls it); return the path on rank 0, else ``None``."""
        from vlmrobust.models.checkpoints import save_state_dict_file

        weights = self._weights(trainer, pl_module)
        if not trainer.is_global_zero:
            return None
        checkpoint = trainer.checkpoint_callback
        folder = Path(self.dirpath or getattr(checkpoint, "dirpath", None) or trainer.default_root_dir)
        name = f"{self.filename.removesuffix('.safetensors')}{suffix}.safetensors"
        meta = {"vlmrobust_spec": str(getattr(pl_module, "model_spec", "")), **metadata}
        return save_state_dict_file(weights, folder / name, metadata=meta)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.path = self.write(trainer, pl_module)
