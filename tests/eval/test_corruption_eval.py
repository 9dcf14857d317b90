"""`vlmrobust eval` on the world's corruption family as shipped: one cell set per corruption x severity."""

from __future__ import annotations

from pathlib import Path

import yaml

from vlmrobust.core.cli import main as vlmrobust
from vlmrobust.core.store import ResultsStore

ROOT = Path(__file__).resolve().parents[2]


def test_world_corruptions_config_runs_as_shipped(tmp_path, capsys):
    cfg = yaml.safe_load((ROOT / "configs/eval/world_corruptions_tiny.yaml").read_text())
    cfg.update(results_db=str(tmp_path / "results.db"), progress=False)
    cfg["data"]["init_args"]["eval_size"] = 12
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    assert vlmrobust(["eval", "--config", str(tmp_path / "c.yaml")]) == 0
    cells = ResultsStore(tmp_path / "results.db").cells(metric="top1")
    expected = {"world/id"} | {
        f"world/c/{c}/{s}" for c in ("gaussian_noise", "fog", "pixelate") for s in (1, 3, 5)
    }
    assert set(cells["eval_set"]) == expected
    assert (cells["n"] == 12).all()
    assert "world/c/fog/5" in capsys.readouterr().out
