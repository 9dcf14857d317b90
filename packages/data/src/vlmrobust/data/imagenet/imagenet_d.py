"""Reader of ImageNet-D (Zhang et al., CVPR 2024): diffusion-generated images of 113 object classes in three
splits, ``background``, ``texture`` and ``material``.

Layout (chenshuang-zhang/imagenet_d README): ``<root>/<split>/<class folder>/<image>.png`` beside
``<root>/questions/<split>.csv`` (the questions for VQA models; not read here). A split need not hold a
folder for every class. The 113 classes are mapped to IN-1k classes by the official table
``preprocessing/imgnet_d2imgnet_id.txt`` (the official ImageNet-model evaluation counts a 1000-way top-1
prediction as correct when it is any mapped IN-1k id); the class order and names are those of
``preprocessing/imgnet_d_dir2imgnet_d_id.txt``, formatted for prompts as the official CLIP evaluation
(``evaluate_vlm.py``) does. ``IMAGENET_D_CLASSES`` holds both tables; see ``docs/formats/corruptions.md``.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Literal

from vlmrobust.core.suggest import did_you_mean
from vlmrobust.data.imagenet.restrict import paired_id_name
from vlmrobust.data.imagenet.samples import ClassSubset, ImageSet, OnError, Problems, Sample, close_matches
from vlmrobust.data.imagenet.scan import is_image_name, require_dir, scan_dir

ImageNetDSplit = Literal["background", "texture", "material"]
IMAGENET_D_SPLITS: tuple[ImageNetDSplit, ...] = ("background", "texture", "material")

#: ``(class folder, official class name, IN-1k ids)`` of the 113 ImageNet-D classes in label order: the
#: folder and name columns of ``imgnet_d_dir2imgnet_d_id.txt`` (label = the row's position, = sorted
#: folder order) and the IN-1k ids of ``imgnet_d2imgnet_id.txt``, in the official order.
IMAGENET_D_CLASSES: tuple[tuple[str, str, tuple[int, ...]], ...] = (
    ("alarm_clock", "alarm_clock", (409, 530)),
    ("backpack", "backpack", (414,)),
    ("banana", "banana", (954,)),
    ("band_aid", "band_aid", (419,)),
    ("bath_towel", "bath_towel", (434,)),
    ("beer_bottle", "beer_bottle", (440,)),
    ("bench", "bench", (703,)),
    ("bicycle", "bicycle", (671, 444)),
    ("binder_closed", "binder_(closed)", (446,)),
    ("bottle_cap", "bottle_cap", (455,)),
    ("bread_loaf", "bread_loaf", (930,)),
    ("broom", "broom", (462,)),
    ("bucket", "bucket", (463,)),
    ("can_opener", "can_opener", (473,)),
    ("candle", "candle", (470,)),
    ("cellphone", "cellphone", (487,)),
    ("chair", "chair", (423, 559, 765)),
    ("cleaver", "cleaver", (499,)),
    ("clothes_hamper", "clothes_hamper", (588,)),
    ("coffee_or_french_press", "coffee/french press", (550,)),
    ("combination_lock", "combination_lock", (507,)),
    ("computer_mouse", "computer_mouse", (673,)),
    ("desk_lamp", "desk_lamp", (846,)),
    ("dishcloth", "dishcloth", (533,)),
    ("doormat", "doormat", (539,)),
    ("dress_shoe_men", "dress_shoe_(men)", (630,)),
    ("drill", "drill", (740,)),
    ("drying_rack_for_plates", "drying_rack_for_plates", (729,)),
    ("envelope", "envelope", (549,)),
    ("fan", "fan", (545,)),
    ("frying_pan", "frying_pan", (567,)),
    ("gown", "gown", (578,)),
    ("hair_dryer", "hair_dryer", (589,)),
    ("hammer", "hammer", (587,)),
    ("helmet", "helmet", (560, 518)),
    ("iron_for_clothes", "iron_(for_clothes)", (606,)),
    ("jeans", "jeans", (608,)),
    ("keyboard", "keyboard", (508,)),
    ("ladle", "ladle", (618,)),
    ("lampshade", "lampshade", (619,)),
    ("laptop_open", "laptop_(open)", (620,)),
    ("lemon", "lemon", (951,)),
    ("letter_opener", "letter_opener", (623,)),
    ("lighter", "lighter", (626,)),
    ("lipstick", "lipstick", (629,)),
    ("matchstick", "matchstick", (644,)),
    ("measuring_cup", "measuring_cup", (647,)),
    ("microwave", "microwave", (651,)),
    ("mixing_or_salad_bowl", "mixing/salad_bowl", (659,)),
    ("monitor", "monitor", (664,)),
    ("mug", "mug", (504,)),
    ("nail_fastener", "nail_(fastener)", (677,)),
    ("necklace", "necklace", (679,)),
    ("orange", "orange", (950,)),
    ("padlock", "padlock", (695,)),
    ("paintbrush", "paintbrush", (696,)),
    ("paper_towel", "paper_towel", (700,)),
    ("pen", "pen", (418, 749, 563)),
    ("pill_bottle", "pill_bottle", (720,)),
    ("pillow", "pillow", (721,)),
    ("pitcher", "pitcher", (725,)),
    ("plastic_bag", "plastic_bag", (728,)),
    ("plate", "plate", (923,)),
    ("plunger", "plunger", (731,)),
    ("pop_can", "pop_can", (737,)),
    ("portable_heater", "portable_heater", (811,)),
    ("printer", "printer", (742,)),
    ("remote_control", "remote_control", (761,)),
    ("ruler", "ruler", (769,)),
    ("running_shoe", "running_shoe", (770,)),
    ("safety_pin", "safety_pin", (772,)),
    ("salt_shaker", "salt_shaker", (773,)),
    ("sandal", "sandal", (774,)),
    ("screw", "screw", (783,)),
    ("shopping_basket", "shopping_basket", (790,)),
    ("shovel", "shovel", (792,)),
    ("skirt", "skirt", (601, 655, 689)),
    ("sleeping_bag", "sleeping_bag", (797,)),
    ("soap_dispenser", "soap_dispenser", (804,)),
    ("sock", "sock", (806,)),
    ("soup_bowl", "soup_bowl", (809,)),
    ("spatula", "spatula", (813,)),
    ("speaker", "speaker", (632,)),
    ("still_camera", "still_camera", (732, 759)),
    ("strainer", "strainer", (828,)),
    ("suit_jacket", "suit_jacket", (834,)),
    ("sunglasses", "sunglasses", (837,)),
    ("sweater", "sweater", (841,)),
    ("swimming_trunks", "swimming_trunks", (842,)),
    ("t_shirt", "t-shirt", (610,)),
    ("tea_cup", "tea_cup", (968,)),
    ("teapot", "teapot", (849,)),
    ("teddy_bear", "teddy_bear", (850,)),
    ("tennis_racket", "tennis_racket", (752,)),
    ("tie", "tie", (457, 906)),
    ("toaster", "toaster", (859,)),
    ("toilet_paper_roll", "toilet_paper_roll", (999,)),
    ("trash_bin", "trash_bin", (412,)),
    ("tray", "tray", (868,)),
    ("tv", "tv", (851,)),
    ("umbrella", "umbrella", (879,)),
    ("vacuum_cleaner", "vacuum_cleaner", (882,)),
    ("vase", "vase", (883,)),
    ("wallet", "wallet", (893,)),
    ("watch", "watch", (531,)),
    ("water_bottle", "water_bottle", (898,)),
    ("weight_exercise", "weight_(exercise)", (543,)),
    ("weight_scale", "weight_scale", (778,)),
    ("wheel", "wheel", (479, 694)),
    ("whistle", "whistle", (902,)),
    ("wine_bottle", "wine_bottle", (907,)),
    ("winter_glove", "winter_glove", (658,)),
    ("wok", "wok", (909,)),
)


def prompt_name(official: str) -> str:
    """A class name as the official CLIP evaluation prompts it: ``_`` and ``-`` become spaces, ``/`` becomes
    ``" or "``, lower-cased (``"coffee/french press"`` -> ``"coffee or french press"``)."""
    return official.replace("_", " ").replace("-", " ").replace("/", " or ").lower()


@cache
def imagenet_d_classes() -> ClassSubset:
    """The 113 ImageNet-D classes (prompt names) -> their IN-1k ids (125 in all, as ObjectNet's 113)."""
    return ClassSubset(
        "imagenet-d",
        tuple(ids for _, _, ids in IMAGENET_D_CLASSES),
        tuple(prompt_name(name) for _, name, _ in IMAGENET_D_CLASSES),
    )


def read_imagenet_d(
    root: str | os.PathLike[str], split: ImageNetDSplit, *, on_error: OnError = "raise"
) -> ImageSet:
    """Index one ImageNet-D split, ``<root>/<split>/<class folder>/<image>``, as ``imagenet-d-<split>``.

    Labels index the 113 classes of ``imagenet_d_classes()`` whatever folders the split holds; the paired
    ID set is ImageNet val on those classes (``imagenet-val-on-imagenet-d-classes``).

    Args:
        root: the ``ImageNet-D`` folder holding ``background/``, ``texture/`` and ``material/``.
        split: ``"background"``, ``"texture"`` or ``"material"``.
        on_error: ``"raise"`` on the first bad input (a class folder outside the table, a non-image file),
            or ``"skip"`` it and report the count at the end.

    Raises:
        ValueError: unknown split.
        FileNotFoundError: ``root`` or its split folder is missing.
        DatasetFormatError: bad input under ``on_error="raise"``.
    """
    if split not in IMAGENET_D_SPLITS:
        raise ValueError(
            f"unknown ImageNet-D split {split!r}. {did_you_mean(split, IMAGENET_D_SPLITS, 'splits')}"
        )
    base = require_dir(root, "ImageNet-D folder")
    folder = require_dir(
        base / split, f"ImageNet-D {split} split folder (<root>/{split}/<class>/<image>.png)"
    )
    name, classes = f"imagenet-d-{split}", imagenet_d_classes()
    label = {f: k for k, (f, _, _) in enumerate(IMAGENET_D_CLASSES)}
    problems = Problems(on_error, f"{name} at {folder}")
    dirs, _ = scan_dir(str(folder))
    found = []
    for d in dirs:
        if d in label:
            found.append((label[d], d))
        else:
            hint = close_matches(d, label)
            problems(folder / d, f"unmapped class folder {d!r}: not one of the 113 ImageNet-D classes.{hint}")
    if not found:
        problems(folder, "holds no ImageNet-D class folder (<class>/<image>.png)")
    samples = []
    for k, d in sorted(found):
        _, files = scan_dir(os.path.join(folder, d))
        for f in sorted(files):
            path = os.path.join(folder, d, f)
            if not is_image_name(f):
                problems(path, "not an image file of this layout")
                continue
            samples.append(Sample(f"{d}/{f}", path, (k,), classes.in1k_groups[k]))
    return ImageSet(
        name=name,
        root=str(folder),
        samples=tuple(samples),
        classes=classes,
        id_set=paired_id_name("imagenet-val", classes),
        skipped=problems.finish(len(samples)),
    )
