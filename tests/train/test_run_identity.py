"""`vlmrobust fit` stores each run under its name plus the hash of its resolved config."""

from pathlib import Path

import pytest

from vlmrobust.core.runs import config_hash
from vlmrobust.core.store import ResultsStore
from vlmrobust.train.cli import VlmrobustCLI

CONFIG = Path(__file__).parents[2] / "configs" / "fit" / "quickstart.yaml"


def _fit(db: Path, *overrides: str) -> VlmrobustCLI:
    return VlmrobustCLI(
        args=["fit", "--config", str(CONFIG), "--trainer.fast_dev_run", "1", "--trainer.logger", "false",
              "--trainer.enable_checkpointing", "false", "--data.init_args.train_size", "16",
              "--data.init_args.eval_size", "8", "--data.init_args.batch_size", "8",
              "--data.init_args.shifts", "[sketch]",
              "--trainer.callbacks.init_args.results_db", str(db), *overrides],
    )  # fmt: skip


def _runs(db: Path) -> list[str]:
    return ResultsStore(db).runs()["run"].tolist()


@pytest.mark.slow
def test_changed_values_write_new_runs_identical_reruns_reuse_and_refuse_names_the_keys(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "results.db"
    first = _fit(db)
    [key] = _runs(db)
    assert key.startswith("quickstart-fit-")
    cells = ResultsStore(db).cells()
    assert set(cells["run"]) == {key} and len(cells)
    stored = ResultsStore(db).runs()["config"].iloc[0]
    assert stored["model"]["init_args"]["lr"] == 0.001 and "logger" not in stored["trainer"]
    assert config_hash(stored) == key.rsplit("-", 1)[1]

    _fit(db, "--trainer.callbacks.init_args.results_db", str(db))  # identical: the same run key
    assert _runs(db) == [key]
    _fit(db, "--trainer.enable_progress_bar", "false")  # console settings are not part of the identity
    assert _runs(db) == [key]

    keys = {key}
    for override in (["--model.init_args.lr", "0.01"], ["--data.init_args.seed", "7"],
                     ["--trainer.max_steps", "50"], ["--model.init_args.model", "open_clip:vlmrobust-tiny-sigmoid-clip"],
                     ["--seed_everything", "3"]):  # fmt: skip
        _fit(db, *override)
        new = set(_runs(db)) - keys
        assert len(new) == 1, override
        keys |= new
        assert set(ResultsStore(db).cells(run=sorted(new))["run"]) == new  # its cells under its own key

    with pytest.raises(ValueError, match=r"model\.init_args\.lr \(0\.001 -> 0\.2\)") as err:
        _fit(db, "--model.init_args.lr", "0.2", "--trainer.callbacks.init_args.on_config_change", "refuse")
    assert "quickstart-fit" in str(err.value) and len(_runs(db)) == len(keys)  # nothing recorded
    assert first.trainer.state.finished


@pytest.mark.slow
def test_two_sweep_trials_never_share_a_run_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "results.db"
    monkeypatch.setenv("WANDB_SWEEP_ID", "sweep1")
    for trial in ("trial-a", "trial-b"):  # the same values: a sweep may repeat them
        monkeypatch.setenv("WANDB_RUN_ID", trial)
        _fit(db)
    runs = ResultsStore(db).runs()
    assert len(set(runs["run"])) == 2
    assert [c["wandb_sweep"]["trial"] for c in runs["config"]] == ["trial-a", "trial-b"]
    assert set(ResultsStore(db).cells()["run"]) == set(runs["run"])
