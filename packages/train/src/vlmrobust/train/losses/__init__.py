"""Training losses, one module per family, selected by config (``model.init_args.loss``).

* :class:`InfoNCE` — CLIP's symmetric InfoNCE (open_clip ``ClipLoss``), features all-gathered across ranks;
* :class:`SigmoidLoss` — SigLIP's pairwise sigmoid loss (open_clip ``SigLipLoss``);
* :class:`NegCLIPLoss` — NegCLIP: hard-negative captions as extra image→text columns;
* :class:`HardPositiveNegativeLoss` — hard positives as second positives, hard negatives at a ratio.

Later recipes (VLM2Vec InfoNCE) add their losses here.
"""

from vlmrobust.train.losses.contrastive import ContrastiveLoss, InfoNCE, SigmoidLoss
from vlmrobust.train.losses.hard_negatives import HardPositiveNegativeLoss, NegCLIPLoss

__all__ = ["ContrastiveLoss", "HardPositiveNegativeLoss", "InfoNCE", "NegCLIPLoss", "SigmoidLoss"]
