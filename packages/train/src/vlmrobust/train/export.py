"""Export the trained model of a fit as one consolidated safetensors file, loadable by its model spec."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl


class ExportModel(pl.Callback):
    """At the end of ``fit``, write the LightningModule's model weights as ``<dirpath>/<filename>``.

    The state dict comes from the strategy (``lightning_module_state_dict``, gathered in full on rank 0
    under sharded strategies) and keeps the keys under ``prefix`` with the prefix removed, so the file holds
    the bare architecture's weights: ``open_clip:<arch>@<dirpath>/<filename>`` is then a model spec wherever
    one is taken (``vlmrobust eval``, ``load_scorer``), like the Lightning checkpoint itself.

    Args:
        dirpath: folder of the file (``None``: the checkpoint callback's folder, else ``default_root_dir``).
        filename: file name, ending in ``.safetensors``.
        prefix: attribute path of the model inside the LightningModule (``CLIPFineTune``: ``scorer.model.``).
    """

    def __init__(
        self, dirpath: str | None = None, filename: str = "model.safetensors", prefix: str = "scorer.model."
    ) -> None:
        if not filename.endswith(".safetensors"):
            raise ValueError(
                f"ExportModel writes safetensors; filename must end in .safetensors, got {filename!r}"
            )
        self.dirpath, self.filename, self.prefix = dirpath, filename, prefix
        self.path: Path | None = None  # the file written (rank 0), after fit

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from vlmrobust.models.checkpoints import save_state_dict_file

        state = trainer.strategy.lightning_module_state_dict()  # a collective under sharded strategies
        if not trainer.is_global_zero:
            return
        weights = {k.removeprefix(self.prefix): v for k, v in state.items() if k.startswith(self.prefix)}
        if not weights:
            raise KeyError(
                f"ExportModel: no weights under prefix {self.prefix!r} in {type(pl_module).__name__}; its keys "
                f"start with {sorted({k.split('.')[0] for k in state})}"
            )
        checkpoint = trainer.checkpoint_callback
        folder = self.dirpath or getattr(checkpoint, "dirpath", None) or trainer.default_root_dir
        spec = str(getattr(pl_module, "model_spec", ""))
        self.path = save_state_dict_file(
            weights, Path(folder) / self.filename, metadata={"vlmrobust_spec": spec}
        )
