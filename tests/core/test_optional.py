"""``require``: lazy imports of optional dependencies with an error naming the extra to install."""

from __future__ import annotations

import json

import pytest

from vlmrobust.core.optional import MissingDependencyError, require


def test_returns_the_module() -> None:
    assert require("json", "none", "vlmrobust-core") is json


def test_missing_module_names_the_pip_command_with_the_extra() -> None:
    with pytest.raises(MissingDependencyError) as info:
        require("vlmrobust_no_such_pkg.sub", "parquet", "vlmrobust-data", "Parquet files")
    message = str(info.value)
    assert message.startswith(
        "vlmrobust_no_such_pkg is needed for Parquet files: pip install 'vlmrobust-data[parquet]'"
    )
    assert isinstance(info.value, ImportError) and isinstance(info.value.__cause__, ModuleNotFoundError)
