"""The compositional benchmarks by name: what file each reads, and how the world writes its own copies.

Every entry reads the official files of one benchmark (``path``: the JSON / CSV file or the folder the
official loader takes; ``image_root``: where its images are found from, as each entry's description says;
default the folder of ``path``) into a
``vlmrobust.data.choice`` dataset. The world's sets (``whatsup-world``, ``aro-world-*``) are first written
in the official What'sUp / ARO formats by ``vlmrobust.data.world.benchmarks`` and then read by the same
readers. ``vlmrobust list evalsets`` shows them; ``BenchmarksDataModule`` serves them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.aro import read_vg_attribution, read_vg_relation
from vlmrobust.data.captions import read_order, read_retrieval_karpathy
from vlmrobust.data.hard_positives import read_hard_positives
from vlmrobust.data.imagenet.samples import OnError
from vlmrobust.data.mmvp import read_mmvp, read_mmvp_vlm
from vlmrobust.data.whatsup import read_spatial, read_whatsup

BenchmarkName = Literal[
    "whatsup-a", "whatsup-b", "coco-spatial-one", "coco-spatial-two", "gqa-spatial-one", "gqa-spatial-two",
    "aro-vg-relation", "aro-vg-attribution", "aro-coco-order", "aro-flickr30k-order",
    "hard-positives-replace-att", "hard-positives-replace-rel", "hard-positives-swap",
    "mmvp", "mmvp-fixed", "mmvp-vlm", "coco-retrieval", "flickr30k-retrieval",
    "whatsup-world", "aro-world-relation", "aro-world-attribution",
]  # fmt: skip
#: Sets the procedural world writes (``path`` is then the folder they are written to).
WORLD_SETS = ("whatsup-world", "aro-world-relation", "aro-world-attribution")


@dataclass(frozen=True)
class ReadArgs:
    """What a benchmark is read from: its official file or folder, its image root, the missing-image policy
    and the options of the Order sets (``order_seed``, ``tagger``)."""

    path: Path
    image_root: Path
    on_missing: OnError = "raise"
    order_seed: int = 1
    tagger: Any = None


@dataclass(frozen=True)
class BenchmarkEntry:
    """One readable compositional benchmark.

    Attributes:
        name: eval-set name.
        read: ``read(ReadArgs) -> dataset`` (a ``vlmrobust.data.choice`` dataset).
        path: what ``path`` is (shown by ``vlmrobust list evalsets``).
        description: what the set is.
    """

    name: str
    read: Callable[[ReadArgs], Any]
    path: str
    description: str


_ENTRIES = (
    BenchmarkEntry("whatsup-a", lambda a: read_whatsup(a.path, a.image_root, "A", on_missing=a.on_missing), "controlled_images_dataset.json",
                   "What'sUp subset A (on / under / left / right of a chair, armchair or table; image root: controlled_images/)"),
    BenchmarkEntry("whatsup-b", lambda a: read_whatsup(a.path, a.image_root, "B", on_missing=a.on_missing), "controlled_clevr_dataset.json",
                   "What'sUp subset B (in front of / behind / left / right; image root: controlled_clevr/)"),
    BenchmarkEntry("coco-spatial-one", lambda a: read_spatial(a.path, a.image_root, "coco", "one", on_missing=a.on_missing), "coco_qa_one_obj.json",
                   "COCO-spatial, one object (image root: the folder holding val2017/)"),
    BenchmarkEntry("coco-spatial-two", lambda a: read_spatial(a.path, a.image_root, "coco", "two", on_missing=a.on_missing), "coco_qa_two_obj.json", "COCO-spatial, two objects"),
    BenchmarkEntry("gqa-spatial-one", lambda a: read_spatial(a.path, a.image_root, "gqa", "one", on_missing=a.on_missing), "vg_qa_one_obj.json",
                   "GQA-spatial, one object (image root: the folder holding vg_images/)"),
    BenchmarkEntry("gqa-spatial-two", lambda a: read_spatial(a.path, a.image_root, "gqa", "two", on_missing=a.on_missing), "vg_qa_two_obj.json", "GQA-spatial, two objects"),
    BenchmarkEntry("aro-vg-relation", lambda a: read_vg_relation(a.path, a.image_root, on_missing=a.on_missing), "visual_genome_relation.json",
                   "ARO VG-Relation (bbox crops, options [false, true]; image root: the folder holding images/)"),
    BenchmarkEntry("aro-vg-attribution", lambda a: read_vg_attribution(a.path, a.image_root, on_missing=a.on_missing), "visual_genome_attribution.json",
                   "ARO VG-Attribution (bbox crops, options [false, true])"),
    BenchmarkEntry("aro-coco-order", lambda a: read_order(a.path, a.image_root, "coco", a.order_seed, a.tagger, on_missing=a.on_missing), "coco_karpathy_test.json (BLIP)",
                   "ARO COCO-Order (original + 4 ARO order shuffles; needs a POS tagger; image root: COCO_ROOT)"),
    BenchmarkEntry("aro-flickr30k-order", lambda a: read_order(a.path, a.image_root, "flickr30k", a.order_seed, a.tagger, on_missing=a.on_missing), "flickr30k_test.json (BLIP)",
                   "ARO Flickr30k-Order"),
    BenchmarkEntry("hard-positives-replace-att", lambda a: read_hard_positives(a.path, "replace-att", a.image_root, on_missing=a.on_missing), "hard_positives repo root",
                   "hard positives REPLACE-att (caption, hard negative, hard positive; image root: <repo>/data)"),
    BenchmarkEntry("hard-positives-replace-rel", lambda a: read_hard_positives(a.path, "replace-rel", a.image_root, on_missing=a.on_missing), "hard_positives repo root",
                   "hard positives REPLACE-rel"),
    BenchmarkEntry("hard-positives-swap", lambda a: read_hard_positives(a.path, "swap", a.image_root, on_missing=a.on_missing), "hard_positives repo root",
                   "hard positives SWAP (VG-Attribution format; image root: the folder holding images/)"),
    BenchmarkEntry("mmvp", lambda a: read_mmvp(a.path, fix_ground_truth=False, on_missing=a.on_missing), "MMVP folder (Questions.csv, MMVP Images/)",
                   "MMVP (150 CLIP-blind pairs, official labels)"),
    BenchmarkEntry("mmvp-fixed", lambda a: read_mmvp(a.path, fix_ground_truth=True, on_missing=a.on_missing), "MMVP folder",
                   "MMVP with the ground-truth fix of rows 99/100 and 279/280"),
    BenchmarkEntry("mmvp-vlm", lambda a: read_mmvp_vlm(a.path, on_missing=a.on_missing), "MMVP_VLM folder (Questions.csv, MLLM_VLM Images/)",
                   "MMVP-VLM (135 pairs of statements, 9 visual patterns)"),
    BenchmarkEntry("coco-retrieval", lambda a: read_retrieval_karpathy(a.path, a.image_root, name="coco-retrieval", on_missing=a.on_missing), "dataset_coco.json (Karpathy)",
                   "COCO Karpathy test retrieval (5k images, 25k captions; image root: the folder holding val2014/)"),
    BenchmarkEntry("flickr30k-retrieval", lambda a: read_retrieval_karpathy(a.path, a.image_root, name="flickr30k-retrieval", on_missing=a.on_missing), "dataset_flickr30k.json (Karpathy)",
                   "Flickr30k Karpathy test retrieval (1k images, 5k captions)"),
    BenchmarkEntry("whatsup-world", lambda a: read_whatsup(a.path, a.image_root, "world", on_missing=a.on_missing), "folder the world writes to",
                   "procedural world's two-object scenes in What'sUp format (left / right / above / below)"),
    BenchmarkEntry("aro-world-relation", lambda a: read_vg_relation(a.path, a.image_root, on_missing=a.on_missing), "folder the world writes to",
                   "procedural world's scenes in ARO VG-Relation format (objects swapped)"),
    BenchmarkEntry("aro-world-attribution", lambda a: read_vg_attribution(a.path, a.image_root, on_missing=a.on_missing), "folder the world writes to",
                   "procedural world's scenes in ARO VG-Attribution format (colours swapped)"),
)  # fmt: skip
#: Every compositional benchmark by name.
BENCHMARK_SETS: dict[str, BenchmarkEntry] = {e.name: e for e in _ENTRIES}


def get_benchmark(name: str) -> BenchmarkEntry:
    """The entry of ``name``; an unknown name raises ``KeyError`` with suggestions."""
    try:
        return BENCHMARK_SETS[name]
    except KeyError:
        raise KeyError(
            f"unknown benchmark {name!r}. {did_you_mean(name, BENCHMARK_SETS, 'benchmarks')}"
        ) from None
