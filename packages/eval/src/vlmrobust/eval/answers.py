"""Parse a generated multiple-choice answer into the chosen option (the protocol's published semantics).

``parse_choice(answer, options)`` never guesses: whatever is unclear is ``ambiguous`` or ``unparsed`` and
the caller scores it wrong and counts it. With K = ``len(options)`` the valid letters are the first K of
``letters``. The rules, in order:

1. **Normalise.** Markdown emphasis (``*``) and backticks are removed, surrounding whitespace is
   stripped, and every inner run of whitespace becomes one newline if it holds one, else one space.
   Nothing is left → ``empty``.
2. **Refusal.** A refusal phrase anywhere ("I cannot/can't/am unable …", "I'm not sure", "I don't
   know", "none of the …", "neither", "sorry", "impossible to", "unclear") → ``unparsed``, whatever
   else the answer says.
3. **Letter mentions** (a letter of ``letters``, valid or not, standing on its own — not next to another
   letter, digit, apostrophe or hyphen, so "it's", "T-shirt" and "I'm" mention nothing):

   * the whole answer is one letter, in either case, optionally bracketed and/or followed by ``.``,
     ``:``, ``)`` or ``!``: "B", "b", "(b)", "B.", "[B]";
   * a bracketed letter in either case anywhere: "(B)", "[b]", "{B}";
   * a lowercase letter right after an answer cue that ends there: "answer: b", "the answer is b.",
     "option b" (but "the answer is a goldfish" mentions no letter);
   * an upper-case letter anywhere: "B.", "B)", "B:", "Option B", "I think it's B", "**B**" — except
     the English words "A" (article) and "I" (pronoun) when followed, on the same line, by a space and
     a word of two or more characters other than the connectives "or", "and", "nor", "is", "was",
     "vs", "versus": "A goldfish." and "I think" mention no letter, "A or B" and "A\\ngoldfish" mention A.

   Letters inside a matched option name (rule 4) are not mentions ("C. vitamin C" mentions C once).
4. **Option text.** Each option's name and its ``synonyms`` match case-insensitively as whole words or
   phrases (any whitespace between their words), optionally followed by a plural "s" or "es" ("goldfishes"); articles need no rule since
   matching is by substring ("a goldfish" contains "goldfish"). A match lying inside a longer match of
   another option is dropped, so "tabby cat" selects "tabby cat", not also "cat".
5. **Decide.** Two or more distinct letters mentioned → ``ambiguous`` ("A or B", "A, B"). One letter
   outside the first K → ``unparsed``. One valid letter → ``letter``, unless option text names another
   option → ``ambiguous``. No letter: exactly one option named → ``text``, several → ``ambiguous``,
   none → ``unparsed``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

Status = Literal["letter", "text", "ambiguous", "unparsed", "empty"]
STATUSES: tuple[Status, ...] = get_args(Status)

_REFUSAL = re.compile(
    r"\b(?:i\s+(?:cannot|can\s*not|can['’]t|am\s+unable|am\s+not\s+sure|do\s+not\s+know|don['’]t\s+know)"
    r"|i['’]m\s+(?:unable|not\s+sure)|none\s+of\s+the|neither"
    r"|sorry|impossible\s+to|unclear)\b",
    re.IGNORECASE,
)
_CONNECTIVES = frozenset({"or", "and", "nor", "is", "was", "vs", "versus"})
_CUE = r"\b(?:answer|option|choice|letter)(?:\s+(?:is|would\s+be|should\s+be|will\s+be))?\s*:?\s*"
_ALONE_BEFORE, _ALONE_AFTER = r"(?<![\w'’-])", r"(?![\w'’-])"


@dataclass(frozen=True)
class ParsedAnswer:
    """A parsed MCQ answer.

    Attributes:
        choice: 0-based option index; ``None`` unless ``status`` is ``letter`` or ``text``.
        status: how the answer was read (see the module docstring).
    """

    choice: int | None
    status: Status

    def __post_init__(self) -> None:
        if (self.choice is not None) != (self.status in ("letter", "text")):
            raise ValueError(f"ParsedAnswer: status {self.status!r} does not go with choice {self.choice!r}")


def _option_spans(text: str, names: Sequence[Sequence[str]]) -> list[tuple[int, int, int]]:
    """(start, end, option) of every whole-word option-name match, minus those inside a longer one."""
    spans = []
    for i, alternatives in enumerate(names):
        for name in alternatives:
            words = name.split()
            if not words:
                continue
            pattern = _ALONE_BEFORE + r"\s+".join(map(re.escape, words)) + r"(?:e?s)?" + _ALONE_AFTER
            spans += [(m.start(), m.end(), i) for m in re.finditer(pattern, text, re.IGNORECASE)]
    return [
        (s, e, i)
        for s, e, i in spans
        if not any(s2 <= s and e <= e2 and (e2 - s2) > (e - s) and i2 != i for s2, e2, i2 in spans)
    ]


def _letter_mentions(text: str, letters: str, spans: list[tuple[int, int, int]]) -> set[int]:
    """Positions in ``letters`` of every letter the text mentions (rule 3)."""
    fold = {c.casefold(): k for k, c in enumerate(letters)}
    either = "".join(re.escape(c) for c in {*letters, *letters.lower(), *letters.upper()})
    whole = re.fullmatch(rf"[\(\[\{{]?\s*([{either}])\s*[\)\]\}}]?\s*[.:)!]?", text)
    if whole:
        return {fold[whole.group(1).casefold()]}
    found: dict[int, str] = {}  # position in text -> letter
    for m in re.finditer(rf"[\(\[\{{]\s*([{either}])\s*[\)\]\}}]", text):
        found[m.start(1)] = m.group(1)
    lower = "".join(re.escape(c) for c in set(letters.lower()))
    for m in re.finditer(rf"{_CUE}[\(\[]?([{lower}])(?=\s*(?:$|[^\w\s]))", text, re.IGNORECASE):
        found[m.start(1)] = m.group(1)
    exact = "".join(re.escape(c) for c in set(letters))
    for m in re.finditer(rf"{_ALONE_BEFORE}([{exact}]){_ALONE_AFTER}", text):
        if m.group(1) in "AIai":
            word = re.match(r" (\w+)", text[m.end() :])
            if word and len(word.group(1)) >= 2 and word.group(1).lower() not in _CONNECTIVES:
                continue  # the article "A" or the pronoun "I"
        found[m.start(1)] = m.group(1)
    return {fold[c.casefold()] for pos, c in found.items() if not any(s <= pos < e for s, e, _ in spans)}


def parse_choice(
    answer: str,
    options: Sequence[str],
    letters: str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    synonyms: Mapping[int, Sequence[str]] | None = None,
) -> ParsedAnswer:
    """Read the chosen option out of a generated answer (rules in the module docstring).

    Args:
        answer: the model's generated text.
        options: the K option names, in the order they were labelled with ``letters``.
        letters: the labels of options in order; only the first K are valid answers.
        synonyms: extra names of an option, by option index (e.g. ``{1: ["Carassius auratus"]}``).

    Returns:
        The chosen 0-based option (``None`` unless the status is ``letter`` or ``text``) and the status.

    Raises:
        ValueError: no options, more options than ``letters``, repeated letters, or a synonym key that
            is not an option index.
    """
    k = len(options)
    if not 1 <= k <= len(letters):
        raise ValueError(f"parse_choice needs 1 <= K <= {len(letters)} letters, got K={k} options")
    if len({c.casefold() for c in letters}) != len(letters):
        raise ValueError(f"letters must be distinct (case-insensitively), got {letters!r}")
    synonyms = synonyms or {}
    bad = sorted(i for i in synonyms if not 0 <= i < k)
    if bad:
        raise ValueError(f"synonyms has keys {bad} outside the option indices 0..{k - 1}")
    text = re.sub(r"\s+", lambda m: "\n" if "\n" in m.group() else " ", re.sub(r"[*`]", "", answer).strip())
    if not text:
        return ParsedAnswer(None, "empty")
    if _REFUSAL.search(text):
        return ParsedAnswer(None, "unparsed")
    names = [[opt, *synonyms.get(i, ())] for i, opt in enumerate(options)]
    spans = _option_spans(text, names)
    named = {i for _, _, i in spans}
    mentioned = _letter_mentions(text, letters, spans)
    if len(mentioned) > 1:
        return ParsedAnswer(None, "ambiguous")
    if mentioned:
        (choice,) = mentioned
        if choice >= k:
            return ParsedAnswer(None, "unparsed")
        return ParsedAnswer(choice, "letter") if named <= {choice} else ParsedAnswer(None, "ambiguous")
    if len(named) == 1:
        return ParsedAnswer(named.pop(), "text")
    return ParsedAnswer(None, "ambiguous" if named else "unparsed")


def count_statuses(parsed: Iterable[ParsedAnswer]) -> dict[Status, int]:
    """How many answers have each status (every status present, zeros included)."""
    counts: dict[Status, int] = dict.fromkeys(STATUSES, 0)
    for p in parsed:
        counts[p.status] += 1
    return counts
