"""Storage and interop: WebDataset tar shards (export, streaming) and Hugging Face ``datasets`` conversion."""

from vlmrobust.data.interop.hf import image_set_from_hf, image_set_to_hf, questions_from_hf, questions_to_hf
from vlmrobust.data.interop.webdataset import WDS_FORMAT, WebDatasetStream, decode_image, export_webdataset

__all__ = [
    "WDS_FORMAT",
    "WebDatasetStream",
    "decode_image",
    "export_webdataset",
    "image_set_from_hf",
    "image_set_to_hf",
    "questions_from_hf",
    "questions_to_hf",
]
