"""Readers of MMVP (``Questions.csv`` + ``MMVP Images/``) and MMVP-VLM (``Questions.csv`` + ``MLLM_VLM Images/``).

Both follow the official scripts of tsb0601/MMVP (``scripts/evaluate_mllm.py``, ``evaluate_vlm.py``):

* MMVP: one question per row (``Index,Question,Options,Correct Answer``), the image of a row named by its
  **row position** + 1 (not its ``Index``), consecutive rows (1, 2), (3, 4), ... forming the CLIP-blind pairs;
  ``Options`` is one string ``"(a) X (b) Y"`` and the answer ``"(a)"`` or ``"(b)"``.
* MMVP-VLM: one statement per row (``Question ID,Type,Statement``), consecutive rows a pair whose two images
  ``<Type of the pair's first row>/<qid>.jpg`` are both candidates of both statements; the statement of the
  odd qid describes the first image. Patterns are assigned by position: pair ``k`` has pattern
  ``CATEGORIES[k // 15]``.

Blank CSV lines are ignored (as ``pandas.read_csv`` does), so they do not shift row positions.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

from vlmrobust.data.choice import (
    CaptionChoice,
    CaptionChoiceDataset,
    ImageChoice,
    ImageChoiceDataset,
    ImageRef,
)
from vlmrobust.data.evalsets import EvalSetInfo
from vlmrobust.data.imagenet.samples import DatasetFormatError, OnError, Problems

QUESTIONS_FILE = "Questions.csv"
#: Image folders (both names contain a space).
MMVP_IMAGE_DIR = "MMVP Images"
MMVP_VLM_IMAGE_DIR = "MLLM_VLM Images"
#: Header columns of the two ``Questions.csv`` files.
MMVP_COLUMNS: tuple[str, ...] = ("Index", "Question", "Options", "Correct Answer")
MMVP_VLM_COLUMNS: tuple[str, ...] = ("Question ID", "Type", "Statement")
#: MMVP-VLM's 9 visual patterns in CSV order (``evaluate_vlm.py``'s ``categories``), 15 pairs each.
CATEGORIES: tuple[str, ...] = (
    "Orientation and Direction",
    "Presence of Specific Features",
    "State and Condition",
    "Quantity and Count",
    "Positional and Relational Context",
    "Color and Appearance",
    "Structural Characteristics",
    "Texts",
    "Viewpoint and Perspective",
)
PAIRS_PER_PATTERN = 15
#: 1-based MMVP rows whose answers are swapped in the official file (MMVP issue #30).
GT_FIX_ROWS: tuple[tuple[int, int], ...] = ((99, 100), (279, 280))

_OPTION_MARK = re.compile(r"\(\s*([a-z])\s*\)", re.IGNORECASE)
_ANSWER = re.compile(r"\(\s*([ab])\s*\)|([ab])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Row:
    """One non-blank data row: its 1-based number among the data rows, its file line and its fields."""

    number: int
    line: int
    fields: dict[str, str]


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[_Row]:
    """The non-blank data rows of ``path``, checked to have the ``columns`` of the header."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in columns if c not in header]
            if missing:
                raise DatasetFormatError(
                    f"{path}: header {','.join(header)!r} lacks column(s) {', '.join(map(repr, missing))}; "
                    f"expected {','.join(columns)}"
                )
            rows: list[_Row] = []
            for values in reader:
                if not any(v.strip() for v in values):
                    continue
                number = len(rows) + 1
                if len(values) != len(header):
                    raise DatasetFormatError(
                        f"{path}: row {number} (line {reader.line_num}) has {len(values)} fields, "
                        f"the header {len(header)}"
                    )
                rows.append(_Row(number, reader.line_num, dict(zip(header, values, strict=True))))
    except FileNotFoundError as err:
        raise DatasetFormatError(f"{path}: file not found") from err
    if len(rows) % 2:
        raise DatasetFormatError(
            f"{path}: {len(rows)} rows, an odd number; pairs are consecutive rows (1, 2), (3, 4), ..."
        )
    return rows


def _where(path: Path, row: _Row) -> str:
    return f"{path}: row {row.number} (line {row.line})"


def parse_options(options: str) -> tuple[str, str]:
    """The two option texts of an MMVP ``Options`` string: ``"(a) Open (b) Closed"`` -> ``("Open", "Closed")``.

    Spaces around markers and texts are tolerated, as are upper-case markers.

    Raises:
        ValueError: the string is not exactly ``(a) X (b) Y`` with non-empty X and Y.
    """
    parts = _OPTION_MARK.split(options)  # [before, letter, text, letter, text, ...]
    letters = [p.lower() for p in parts[1::2]]
    texts = tuple(p.strip() for p in parts[2::2])
    if parts[0].strip() or letters != ["a", "b"] or not all(texts):
        raise ValueError(f"Options {options!r} do not parse into exactly two options '(a) X (b) Y'")
    return texts[0], texts[1]


def parse_answer(answer: str) -> int:
    """Option index of an MMVP ``Correct Answer``: ``"(a)"`` -> 0, ``"(b)"`` -> 1 (also ``a``, ``(A)`` ...).

    Raises:
        ValueError: anything else.
    """
    match = _ANSWER.fullmatch(answer.strip())
    if match is None:
        raise ValueError(f"Correct Answer {answer!r} is not '(a)' or '(b)'")
    return "ab".index((match.group(1) or match.group(2)).lower())


def read_mmvp(
    root: str | os.PathLike[str], fix_ground_truth: bool = False, *, on_missing: OnError = "raise"
) -> CaptionChoiceDataset:
    """Read MMVP: one two-option question per row of ``root/Questions.csv``, image ``MMVP Images/<row>.jpg``.

    The image of the row at position ``p`` (0-based, blank lines ignored) is ``{p + 1}.jpg`` whatever its
    ``Index`` column says, as in the official ``evaluate_mllm.py``. Record ``p`` has ``texts`` = the two
    option texts, ``answer`` 0 for ``(a)`` and 1 for ``(b)``, ``question`` = the ``Question`` column, and
    ``meta = {"pair": p // 2, "row": p + 1, "options": <the raw Options string>}``.

    ``fix_ground_truth`` swaps the answers of rows 99/100 (elephant tusks) and 279/280 (standing/sitting),
    the known ground-truth errors of the official file (MMVP issue #30; fixed in ``lmms-lab-eval/MMVP``),
    where those rows exist. It is off by default, matching the official repository's numbers; the fixed
    set is named ``mmvp-fixed``.

    Args:
        root: folder holding ``Questions.csv`` and ``MMVP Images/``.
        fix_ground_truth: swap the answers of rows 99/100 and 279/280.
        on_missing: a missing image: ``raise``, or ``skip`` its row (counted and logged; its pair is then
            incomplete and left out of pair accuracy).

    Returns:
        The ``captions`` dataset (EvalSetInfo ``mmvp`` / ``mmvp-fixed``, benchmark ``mmvp``, 2 options);
        sample ids are the row numbers ``"1"``, ``"2"``, ...

    Raises:
        DatasetFormatError: a missing file or column, an odd number of rows, an ``Options`` or
            ``Correct Answer`` that does not parse (the message names the file and row), or a missing image
            under ``on_missing="raise"``.
    """
    root = Path(root)
    csv_path = root / QUESTIONS_FILE
    rows = _read_csv(csv_path, MMVP_COLUMNS)
    options, answers = [], []
    for row in rows:
        try:
            options.append(parse_options(row.fields["Options"]))
            answers.append(parse_answer(row.fields["Correct Answer"]))
        except ValueError as err:
            raise DatasetFormatError(f"{_where(csv_path, row)}: {err}") from None
    if fix_ground_truth:
        for a, b in GT_FIX_ROWS:
            if b <= len(rows):
                answers[a - 1], answers[b - 1] = answers[b - 1], answers[a - 1]
    problems = Problems(on_missing, f"MMVP {csv_path}")
    records = []
    for p, row in enumerate(rows):
        image = root / MMVP_IMAGE_DIR / f"{p + 1}.jpg"
        if not image.is_file():
            problems(image, f"image file not found (row {p + 1} of {csv_path})")
            continue
        meta = {"pair": p // 2, "row": p + 1, "options": row.fields["Options"]}
        records.append(
            CaptionChoice(str(p + 1), ImageRef(image), options[p], answers[p], meta, row.fields["Question"])
        )
    skipped = problems.finish(len(records))
    name = "mmvp-fixed" if fix_ground_truth else "mmvp"
    info = EvalSetInfo(name, (), (), None, len(records), task="captions", num_options=2, benchmark="mmvp")
    return CaptionChoiceDataset(records, info, skipped=skipped)


def _qid(csv_path: Path, row: _Row) -> int:
    value = row.fields["Question ID"].strip()
    try:
        return int(value)
    except ValueError:
        raise DatasetFormatError(
            f"{_where(csv_path, row)}: Question ID {value!r} is not an integer"
        ) from None


def read_mmvp_vlm(root: str | os.PathLike[str], *, on_missing: OnError = "raise") -> ImageChoiceDataset:
    """Read MMVP-VLM: one statement per row of ``root/Questions.csv``, consecutive rows forming a pair.

    Pair ``k`` is rows ``2k + 1`` and ``2k + 2`` (qids ``q`` odd and ``q + 1``); both of its images come from
    the folder of the **first** row's ``Type``: ``MLLM_VLM Images/<Type>/<q>.jpg`` and ``<q + 1>.jpg``, as in
    the official ``evaluate_vlm.py``. Each row is a record with ``images`` = (image of ``q``, image of
    ``q + 1``), ``text = "a photo of " + Statement``, ``answer`` 0 for the first row (odd qid) and 1 for the
    second, and ``meta = {"pair": k, "pattern": CATEGORIES[k // 15]}`` (patterns by position).

    Args:
        root: folder holding ``Questions.csv`` and ``MLLM_VLM Images/``.
        on_missing: a missing image: ``raise``, or ``skip`` both statements of its pair (counted and logged).

    Returns:
        The ``images`` dataset (EvalSetInfo ``mmvp-vlm``, benchmark ``mmvp-vlm``, 2 images); sample ids
        are the qids.

    Raises:
        DatasetFormatError: a missing file or column, an odd number of rows, more than 9 x 15 pairs, a
            non-integer, repeated or misordered qid, an empty ``Type`` (the message names the file and
            row), or a missing image under ``on_missing="raise"``.
    """
    root = Path(root)
    csv_path = root / QUESTIONS_FILE
    rows = _read_csv(csv_path, MMVP_VLM_COLUMNS)
    n_pairs = len(rows) // 2
    if n_pairs > len(CATEGORIES) * PAIRS_PER_PATTERN:
        raise DatasetFormatError(
            f"{csv_path}: {n_pairs} pairs, but MMVP-VLM has {len(CATEGORIES)} patterns of {PAIRS_PER_PATTERN} "
            f"pairs; pair {len(CATEGORIES) * PAIRS_PER_PATTERN} and later have no pattern"
        )
    problems = Problems(on_missing, f"MMVP-VLM {csv_path}")
    records, seen = [], set()
    for k in range(n_pairs):
        first, second = rows[2 * k], rows[2 * k + 1]
        q1, q2 = _qid(csv_path, first), _qid(csv_path, second)
        if q1 % 2 != 1 or q2 != q1 + 1:
            raise DatasetFormatError(
                f"{_where(csv_path, first)}: pair {k} has qids {q1}, {q2}; a pair is an odd qid q and q + 1"
            )
        if q1 in seen:
            raise DatasetFormatError(f"{_where(csv_path, first)}: qid {q1} repeats an earlier pair")
        seen.add(q1)
        folder = first.fields["Type"]
        if not folder.strip():
            raise DatasetFormatError(f"{_where(csv_path, first)}: empty Type (the image folder of pair {k})")
        refs = tuple(ImageRef(root / MMVP_VLM_IMAGE_DIR / folder / f"{q}.jpg") for q in (q1, q2))
        missing = [ref.path for ref in refs if not ref.path.is_file()]
        for path in missing:
            problems(
                path, f"image file not found (pair {k}, rows {first.number}-{second.number} of {csv_path})"
            )
        if missing:
            continue
        pattern = CATEGORIES[k // PAIRS_PER_PATTERN]
        for answer, (q, row) in enumerate(((q1, first), (q2, second))):
            text = "a photo of " + row.fields["Statement"]
            records.append(ImageChoice(str(q), refs, text, answer, {"pair": k, "pattern": pattern}))
    skipped = problems.finish(len(records))
    info = EvalSetInfo(
        "mmvp-vlm", (), (), None, len(records), task="images", num_options=2, benchmark="mmvp-vlm"
    )
    return ImageChoiceDataset(records, info, skipped=skipped)
