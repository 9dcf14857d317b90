"""MCQ answer parsing: a table of realistic answers with the expected reading, and property checks."""

import string

import pytest

from vlmrobust.eval.answers import ParsedAnswer, count_statuses, parse_choice

# A = tabby cat, B = goldfish, C = cat, D = shark, E = tench
OPTIONS = ["tabby cat", "goldfish", "cat", "shark", "tench"]
SYNONYMS = {1: ["Carassius auratus"], 4: ["Tinca tinca"]}

CASES = [
    # letters, every common form
    ("B", 1, "letter"),
    ("b", 1, "letter"),
    ("(B)", 1, "letter"),
    ("(b)", 1, "letter"),
    ("B.", 1, "letter"),
    ("B)", 1, "letter"),
    ("[B]", 1, "letter"),
    ("B:", 1, "letter"),
    ("B\n", 1, "letter"),
    ("  D  ", 3, "letter"),
    ("**B**", 1, "letter"),
    ("Answer: B", 1, "letter"),
    ("Answer: b", 1, "letter"),
    ("The answer is B", 1, "letter"),
    ("The answer is (B).", 1, "letter"),
    ("the answer is d.", 3, "letter"),
    ("Option B", 1, "letter"),
    ("option e", 4, "letter"),
    ("I think it's B", 1, "letter"),
    ("I believe the correct option is E.", 4, "letter"),
    ("**Answer:** (D) shark", 3, "letter"),
    ("B. The answer is B.", 1, "letter"),
    ("A", 0, "letter"),
    ("A.", 0, "letter"),
    ("A is correct.", 0, "letter"),
    # letter followed by its option text (LLaVA style)
    ("B. goldfish", 1, "letter"),
    ("B goldfish", 1, "letter"),
    ("(A) tabby cat", 0, "letter"),
    ("A. tabby cat", 0, "letter"),
    ("The answer is:\n\n(B) goldfish", 1, "letter"),
    ("E. Tench (Tinca tinca)", 4, "letter"),
    # option text only
    ("goldfish", 1, "text"),
    ("Goldfish.", 1, "text"),
    ("The image shows a goldfish.", 1, "text"),
    ("A goldfish.", 1, "text"),  # article, not letter A
    ("A shark", 3, "text"),
    ("goldfishes", 1, "text"),  # plural "es"
    ("Two sharks swimming.", 3, "text"),  # plural "s"
    ("It is a tabby cat.", 0, "text"),  # longest match: not also "cat"
    ("a cat", 2, "text"),
    ("Carassius auratus", 1, "text"),  # synonym
    ("The fish is a tinca tinca", 4, "text"),  # synonym, case-insensitive
    ("I see a shark in the water.", 3, "text"),  # pronoun, not letter I
    ("This is a\ngoldfish", 1, "text"),  # multi-line
    ("A\ntabby cat", 0, "letter"),  # a letter alone on its line is no article
    ("B\n\nExplanation: the fish is orange, typical of a goldfish.", 1, "letter"),
    ("It's (A).", 0, "letter"),
    ("I would choose option C.", 2, "letter"),
    ('The answer is "D".', 3, "letter"),
    ("Answer: A, tabby cat", 0, "letter"),
    # two letters, letter contradicting text, several options named
    ("A or B", None, "ambiguous"),
    ("A and C", None, "ambiguous"),
    ("A, B", None, "ambiguous"),
    ("B or D?", None, "ambiguous"),
    ("(A) tabby cat\n(B) goldfish", None, "ambiguous"),
    ("B. shark", None, "ambiguous"),
    ("A\ngoldfish", None, "ambiguous"),  # letter A, text names B
    ("Answer: C\n\nThe image shows a goldfish.", None, "ambiguous"),
    ("The answer is C, a goldfish.", None, "ambiguous"),
    ("It could be a goldfish or a shark.", None, "ambiguous"),
    ("A cat or a tabby cat", None, "ambiguous"),
    # letters outside the first K
    ("F", None, "unparsed"),
    ("(G)", None, "unparsed"),
    ("The answer is Z.", None, "unparsed"),
    # refusals, nothing recognisable
    ("I cannot tell from this image.", None, "unparsed"),
    ("None of the above", None, "unparsed"),
    ("Sorry, I can't help with that.", None, "unparsed"),
    ("I'm not sure, maybe B.", None, "unparsed"),
    ("Neither A nor B", None, "unparsed"),
    ("a dog", None, "unparsed"),
    ("It's a T-shirt.", None, "unparsed"),  # hyphenated T is no letter
    ("the answer is a whale", None, "unparsed"),  # article after a cue is no letter
    # empty
    ("", None, "empty"),
    ("   \n\t ", None, "empty"),
    ("****", None, "empty"),
]


@pytest.mark.parametrize(("answer", "choice", "status"), CASES)
def test_parse_table(answer, choice, status):
    assert parse_choice(answer, OPTIONS, synonyms=SYNONYMS) == ParsedAnswer(choice, status)


def test_table_is_large_and_covers_every_status():
    assert len(CASES) >= 45
    assert {s for _, _, s in CASES} == {"letter", "text", "ambiguous", "unparsed", "empty"}


@pytest.mark.parametrize("k", range(1, 27))
def test_bracketed_letter_parses_to_its_index_for_every_k(k):
    options = [f"class{i}" for i in range(k)]
    for i, letter in enumerate(string.ascii_uppercase):
        expected = ParsedAnswer(i, "letter") if i < k else ParsedAnswer(None, "unparsed")
        assert parse_choice(f"({letter})", options) == expected
        assert parse_choice(f"{letter}.", options) == expected
        assert parse_choice(f"The answer is ({letter}).", options) == expected


def test_option_name_contained_in_another_prefers_longest_either_order():
    assert parse_choice("a tabby cat", ["cat", "tabby cat"]) == ParsedAnswer(1, "text")
    assert parse_choice("a tabby cat", ["tabby cat", "cat"]) == ParsedAnswer(0, "text")


def test_letter_inside_an_option_name_is_not_a_mention():
    assert parse_choice("C. vitamin C", ["iron", "zinc", "vitamin C"]) == ParsedAnswer(2, "letter")


def test_custom_letters():
    assert parse_choice("(2)", ["x", "y", "z"], letters="123") == ParsedAnswer(1, "letter")
    assert parse_choice("4", ["x", "y", "z"], letters="1234") == ParsedAnswer(None, "unparsed")


@pytest.mark.parametrize(
    ("options", "letters", "synonyms", "needle"),
    [
        ([], "ABC", None, "K=0"),
        (["x"] * 4, "ABC", None, "K=4"),
        (["x", "y"], "AaB", None, "distinct"),
        (["x", "y"], "ABC", {2: ["z"]}, "[2]"),
    ],
)
def test_bad_arguments_raise(options, letters, synonyms, needle):
    with pytest.raises(ValueError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        parse_choice("A", options, letters=letters, synonyms=synonyms)


def test_parsed_answer_rejects_inconsistent_fields():
    with pytest.raises(ValueError, match="ambiguous"):
        ParsedAnswer(1, "ambiguous")
    with pytest.raises(ValueError, match="letter"):
        ParsedAnswer(None, "letter")


def test_count_statuses_counts_by_hand():
    parsed = [parse_choice(a, OPTIONS) for a in ["B", "(C)", "goldfish", "A or B", "", "F", "dog"]]
    assert count_statuses(parsed) == {"letter": 2, "text": 1, "ambiguous": 1, "unparsed": 2, "empty": 1}
    assert count_statuses([]) == {"letter": 0, "text": 0, "ambiguous": 0, "unparsed": 0, "empty": 0}


@pytest.mark.parametrize("i", range(len(OPTIONS)))
def test_every_option_by_text_by_letter_and_contradicted(i):
    letter, name, other = "ABCDE"[i], OPTIONS[i], OPTIONS[(i + 1) % len(OPTIONS)]
    assert parse_choice(name, OPTIONS) == ParsedAnswer(i, "text")
    assert parse_choice(f"{letter}. {name}", OPTIONS) == ParsedAnswer(i, "letter")
    assert parse_choice(f"({letter.lower()}) {name.upper()}", OPTIONS) == ParsedAnswer(i, "letter")
    assert parse_choice(f"{letter}. {other}", OPTIONS) == ParsedAnswer(None, "ambiguous")
    assert parse_choice(f"{letter}. {name}, not {other}", OPTIONS) == ParsedAnswer(None, "ambiguous")


def test_holistic_ix_prompt_keeps_the_papers_layout():
    from vlmrobust.eval.prompts import format_question

    assert format_question("holistic-ix", ["tench", "goldfish"]) == (
        "What is the main object in this image? Choose from the following list:\nA.tench\nB.goldfish\n"
        "Please answer the question using the choice from the list."
    )
    assert format_question("a4-3", ["tench"]) == (
        "What type of object is in this photo?\nA. tench\nAnswer with the option's letter from the given choices "
        "directly."
    )
