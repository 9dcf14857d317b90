"""vlmrobust.train: LightningModules, losses, strategies, `vlmrobust fit` and the quickstart."""
