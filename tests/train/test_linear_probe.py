"""Linear probe on cached frozen features of the world: the cache equals the encoder's features, the probe
trains on them, and its numbers are stored under ``head/linear``, equal to the head's argmax by hand."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch

from vlmrobust.core.store import ResultsStore
from vlmrobust.data.datamodules import FeatureDataModule, WorldDataModule
from vlmrobust.eval.robustness_callback import RobustnessCallback
from vlmrobust.models.features import ImageEncoder
from vlmrobust.models.registry import load_scorer
from vlmrobust.train.linear_probe import LinearProbe


def _dm(tmp_path, **kw) -> FeatureDataModule:
    world = WorldDataModule(seed=0, train_size=48, eval_size=16, shifts=("sketch",))
    encoder = ImageEncoder("open_clip:vlmrobust-tiny-clip", seed=0)
    return FeatureDataModule(
        world, encoder, cache_dir=str(tmp_path / "cache"), batch_size=16, shard_size=32, **kw
    )


def _fit(module: LinearProbe, dm: FeatureDataModule, tmp_path, steps: int, callbacks=()) -> pl.Trainer:
    trainer = pl.Trainer(accelerator="cpu", max_steps=steps, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         default_root_dir=tmp_path, callbacks=list(callbacks), val_check_interval=steps,
                         check_val_every_n_epoch=None)  # fmt: skip
    trainer.fit(module, datamodule=dm)
    return trainer


def test_cached_features_are_the_encoders(tmp_path) -> None:
    dm = _dm(tmp_path)
    dm.prepare_data()
    dm.setup("fit")
    scorer = load_scorer("open_clip:vlmrobust-tiny-clip", seed=0).eval()
    source = dm.source.eval_datasets[1]  # world/sketch, with the scorer's preprocessing
    images = torch.stack([source[i]["image"] for i in range(4)])
    with torch.no_grad():
        expected = scorer.encode_image(images, normalize=False)
    cached = torch.stack([dm.eval_datasets[1][i]["features"] for i in range(4)])
    torch.testing.assert_close(cached, expected, atol=1e-5, rtol=1e-5)
    assert dm.feature_dim == expected.shape[1] and len(dm.train_set) == 48


def test_probe_fits_and_stores_what_its_head_predicts(tmp_path) -> None:
    dm = _dm(tmp_path)
    db = tmp_path / "results.db"
    probe = LinearProbe(lr=1e-2, seed=0)
    _fit(probe, dm, tmp_path, steps=6, callbacks=[RobustnessCallback(results_db=str(db), run_name="probe")])
    cells = ResultsStore(db).cells(metric="top1").set_index("eval_set")
    assert set(cells["protocol"]) == {"head/linear"} and set(cells["step"]) == {6}
    for i, info in enumerate(dm.eval_sets):  # the stored accuracy is the head's argmax accuracy, by hand
        ds = dm.eval_datasets[i]
        feats = torch.stack([ds[j]["features"] for j in range(len(ds))])
        labels = torch.tensor([ds[j]["label"] for j in range(len(ds))])
        with torch.no_grad():
            pred = (feats @ probe.head.linear.weight.T + probe.head.linear.bias).argmax(1)
        assert cells.loc[info.name, "value"] == pytest.approx((pred == labels).float().mean().item(), abs=0)
    assert cells.loc["world/id", "model"].startswith("linear-probe[open_clip:vlmrobust-tiny-clip|embedding")


def test_train_subset_shares_the_cache_and_the_seed_sets_the_init(tmp_path) -> None:
    small = _dm(tmp_path, train_subset=16)
    small.prepare_data()
    small.setup("fit")
    assert len(small.train_set) == 16
    drawn = list(small.train_set.indices)
    assert drawn == sorted(torch.randperm(48, generator=torch.Generator().manual_seed(0))[:16].tolist())
    larger = _dm(tmp_path, train_subset=32)
    larger.setup("fit")
    assert set(drawn) <= set(larger.train_set.indices)  # nested subsets of one seed
    heads = []
    for seed in (0, 0, 1):
        probe = LinearProbe(seed=seed)
        probe._trainer = type("T", (), {"datamodule": small})()
        probe.configure_model()
        heads.append(probe.head.linear.weight.detach().clone())
    assert torch.equal(heads[0], heads[1]) and not torch.equal(heads[0], heads[2])


def test_probe_needs_features(tmp_path) -> None:
    probe = LinearProbe()
    probe._trainer = type("T", (), {"datamodule": WorldDataModule(train_size=8, eval_size=4)})()
    with pytest.raises(AttributeError, match="use FeatureDataModule, not WorldDataModule"):
        probe.configure_model()
    with pytest.raises(ValueError, match="pooling='embedding' needs an image-text scorer"):
        ImageEncoder("timm:vit_tiny_patch16_224")
