"""``cli_main``: one ``vlmrobust <command>: error: …`` line and exit code 2 for bad input, tracebacks for bugs."""

from __future__ import annotations

import argparse

import pytest

from vlmrobust.core.errors import CLIError, cli_main
from vlmrobust.core.optional import MissingDependencyError


class FormatError(ValueError):
    """Stands in for a reader's error such as ``DatasetFormatError``."""


def _raising(err: BaseException):
    @cli_main("demo")
    def main(argv: list[str]) -> int:
        raise err

    return main


@pytest.mark.parametrize(
    ("err", "line"),
    [
        (CLIError("bad --x"), "bad --x"),
        (FormatError("/data/a.csv:3: malformed row"), "/data/a.csv:3: malformed row"),
        (FileNotFoundError(2, "No such file or directory", "/data/val"), "/data/val: No such file or directory"),
        (FileNotFoundError("/data/r: ImageNet-R folder does not exist"), "/data/r: ImageNet-R folder does not exist"),
        (KeyError("unknown model 'x'; valid: a, b"), "unknown model 'x'; valid: a, b"),
        (MissingDependencyError("pyarrow is needed: pip install 'vlmrobust-data[parquet]'"),
         "pyarrow is needed: pip install 'vlmrobust-data[parquet]'"),
        (SystemExit("stopped: no data"), "stopped: no data"),
    ],
)  # fmt: skip
def test_reported_errors_are_one_line_and_exit_2(
    err: BaseException, line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _raising(err)([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"vlmrobust demo: error: {line}\n"


@pytest.mark.parametrize("err", [RuntimeError("bug"), KeyError("x"), TypeError("bug")])
def test_bugs_keep_their_traceback(err: BaseException) -> None:
    with pytest.raises(type(err)):
        _raising(err)([])


def test_expected_adds_types(capsys: pytest.CaptureFixture[str]) -> None:
    class StoreBroken(RuntimeError):
        pass

    @cli_main("demo", expected=(StoreBroken,))
    def main(argv: list[str]) -> int:
        raise StoreBroken("results.db: schema 9")

    assert main([]) == 2
    assert capsys.readouterr().err == "vlmrobust demo: error: results.db: schema 9\n"


def test_argv_exit_codes_and_argparse(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    @cli_main("demo")
    def main(argv: list[str]) -> int | None:
        parser = argparse.ArgumentParser(prog="vlmrobust demo")
        parser.add_argument("--n", type=int, required=True)
        n = parser.parse_args(argv).n
        return None if n == 0 else n

    assert main(["--n", "0"]) == 0  # None counts as success
    assert main(["--n", "3"]) == 3
    assert main(["--n", "many"]) == 2  # argparse's usage error, as an exit code
    assert "vlmrobust demo: error: argument --n: invalid int value: 'many'" in capsys.readouterr().err
    assert main(["--help"]) == 0
    monkeypatch.setattr("sys.argv", ["vlmrobust-demo", "--n", "7"])
    assert main() == 7  # argv=None reads sys.argv[1:]
