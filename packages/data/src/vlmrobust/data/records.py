"""JSON-record helpers of the compositional benchmark readers (What'sUp, ARO, hard positives): typed
field access whose errors name the file, record and key; image presence under an ``on_missing`` policy;
and the ``captions`` dataset of parsed records with its counted skips."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vlmrobust.data.choice import CaptionChoice, CaptionChoiceDataset
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.imagenet.samples import DatasetFormatError, Problems


def load_json_array(path: str | os.PathLike[str]) -> list[Any]:
    """The records of a JSON file holding one array.

    Args:
        path: the JSON file.

    Raises:
        DatasetFormatError: the file is not valid JSON or not an array (the message names the file).
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise DatasetFormatError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, list):
        raise DatasetFormatError(f"{path}: expected a JSON array of records, got {type(data).__name__}")
    return data


class JsonRecord:
    """Typed field access on record ``index`` of a JSON array; every error names the file, index and key.

    Args:
        path: the file the record comes from.
        index: its position in the array.
        raw: the parsed record (must be an object).
    """

    def __init__(self, path: str | os.PathLike[str], index: int, raw: Any) -> None:
        self.where = f"{path}: record {index}"
        if not isinstance(raw, dict):
            raise self.fail(f"expected an object, got {type(raw).__name__} {raw!r:.60}")
        self.raw: dict[str, Any] = raw

    def fail(self, message: str) -> DatasetFormatError:
        """An error naming the file and record."""
        return DatasetFormatError(f"{self.where}: {message}")

    def value(self, key: str, kind: type | tuple[type, ...]) -> Any:
        """``record[key]`` checked to be a ``kind`` (``bool`` never passes as a number)."""
        if key not in self.raw:
            raise self.fail(f"missing key {key!r}")
        value = self.raw[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            names = "/".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise self.fail(f"key {key!r} must be {names}, got {type(value).__name__} {value!r:.60}")
        return value

    def text(self, key: str) -> str:
        """``record[key]`` checked to be a non-empty string."""
        value = self.value(key, str)
        if not value.strip():
            raise self.fail(f"key {key!r} is empty")
        return value

    def number(self, key: str) -> float:
        """``record[key]`` checked to be an int or a float."""
        return self.value(key, (int, float))


def image_present(path: Path, problems: Problems, where: str) -> bool:
    """Whether the image file exists; a missing one is reported to ``problems`` (raise or counted skip).

    Args:
        path: the image file.
        problems: collects the bad input under the reader's ``on_missing`` policy.
        where: the record it belongs to, e.g. ``"record 3 of data/x.json"``.
    """
    if path.is_file():
        return True
    problems(path, f"image file not found ({where})")
    return False


def caption_choice_dataset(
    name: str, benchmark: str, num_options: int, records: Sequence[CaptionChoice], problems: Problems
) -> CaptionChoiceDataset:
    """The ``captions`` set of ``records``; its ``skipped`` holds the inputs skipped as missing.

    Args:
        name: eval-set name.
        benchmark: scoring rule (``vlmrobust.eval.metrics.compositional``).
        num_options: K, the captions per image.
        records: the kept records.
        problems: the reader's bad-input collector (its skips are logged and attached).
    """
    skipped = problems.finish(len(records))
    info = EvalSetInfo(name, (), (), None, len(records), task="captions", num_options=num_options,
                       benchmark=benchmark)  # fmt: skip
    return CaptionChoiceDataset(records, info, skipped=skipped)
