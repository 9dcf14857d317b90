"""vlmrobust.core must stay torch-free: importing every module must not pull torch in."""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import importlib, pkgutil, sys
import vlmrobust.core as core
names = sorted(m.name for m in pkgutil.iter_modules(core.__path__, "vlmrobust.core."))
assert len(names) >= 8, names
for name in names:
    importlib.import_module(name)
leaked = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
assert not leaked, leaked[:5]
print(len(names))
"""


@pytest.mark.slow
def test_core_imports_no_torch() -> None:
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.strip()) >= 8
