"""vlmrobust.train: LightningModules, losses, strategies, `vlmrobust fit` and the quickstart."""

from vlmrobust.train.clip_finetune import CLIPFineTune

__all__ = ["CLIPFineTune"]
