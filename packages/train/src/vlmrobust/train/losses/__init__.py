"""Training losses, one module per family, selected by config (``model.init_args.loss``).

* :class:`InfoNCE` — CLIP's symmetric InfoNCE (open_clip ``ClipLoss``), features all-gathered across ranks;
* :class:`SigmoidLoss` — SigLIP's pairwise sigmoid loss (open_clip ``SigLipLoss``).

Later recipes (NegCLIP, hard positives + negatives, VLM2Vec InfoNCE) add their losses here.
"""

from vlmrobust.train.losses.contrastive import ContrastiveLoss, InfoNCE, SigmoidLoss

__all__ = ["ContrastiveLoss", "InfoNCE", "SigmoidLoss"]
