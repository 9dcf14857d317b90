"""Image-caption data: the Karpathy splits of COCO and Flickr30k, read from the official files in place.

``read_karpathy`` indexes ``dataset_coco.json`` / ``dataset_flickr30k.json`` (no image is opened) into
``CaptionRecord`` s; ``CaptionPairDataset`` serves one item per (image, caption) pair for contrastive
training; ``write_karpathy`` writes synthetic files in the official format for tests. The Lightning side
is ``vlmrobust.data.datamodules.CaptionsDataModule``.
"""

from vlmrobust.data.captions.dataset import CaptionPairDataset
from vlmrobust.data.captions.fixtures import KarpathyFiles, coco_file_name, write_karpathy
from vlmrobust.data.captions.karpathy import (
    KARPATHY_SPLITS,
    KARPATHY_TRAIN,
    CaptionRecord,
    KarpathyCaptions,
    KarpathySplit,
    read_karpathy,
)
from vlmrobust.data.captions.order import ORDER_SETS, read_order
from vlmrobust.data.captions.retrieval import (
    BLIP_TEST_FILES,
    BlipFiles,
    BlipTest,
    read_blip_test,
    read_retrieval_karpathy,
    write_blip_test,
)

__all__ = [
    "BLIP_TEST_FILES",
    "KARPATHY_SPLITS",
    "KARPATHY_TRAIN",
    "ORDER_SETS",
    "BlipFiles",
    "BlipTest",
    "CaptionPairDataset",
    "CaptionRecord",
    "KarpathyCaptions",
    "KarpathyFiles",
    "KarpathySplit",
    "coco_file_name",
    "read_blip_test",
    "read_karpathy",
    "read_order",
    "read_retrieval_karpathy",
    "write_blip_test",
    "write_karpathy",
]
