"""NegCLIP / HP+HN recipe: the training step feeds each image's own hard negatives and positives to the loss."""

from __future__ import annotations

import pytest
import torch

from vlmrobust.data.datamodules import WorldDataModule
from vlmrobust.train.losses import HardPositiveNegativeLoss, NegCLIPLoss
from vlmrobust.train.negclip import NegCLIP


def _batch() -> dict:
    dm = WorldDataModule(seed=0, train_size=8, eval_size=4, batch_size=4, train_data="scenes")
    return next(iter(dm.train_dataloader()))


def test_scene_batches_carry_hard_negatives_and_positives() -> None:
    batch = _batch()
    assert batch["image"].shape == (4, 3, 32, 32) and len(batch["caption"]) == 4
    for i in range(4):  # the opposite relation and the swapped objects differ from the caption
        assert batch["relation_negative"][i] != batch["caption"][i] != batch["swapped_objects"][i]
        assert batch["relation_positive"][i] != batch["caption"][i]
    with pytest.raises(ValueError, match="unknown train_data 'scene'"):
        WorldDataModule(train_data="scene")  # type: ignore[arg-type]


def _features(module: NegCLIP, texts: list[str]) -> torch.Tensor:
    return module.scorer.encode_text(module.scorer.tokenize(texts), normalize=True)


@torch.no_grad()
def test_negclip_step_uses_each_images_own_negatives() -> None:
    module = NegCLIP(model_seed=0).eval()
    batch = _batch()
    images = module.scorer.encode_image(batch["image"], normalize=True)
    own = torch.stack(
        [_features(module, [batch["relation_negative"][i], batch["swapped_objects"][i]]) for i in range(4)]
    )
    expected = NegCLIPLoss()(images, _features(module, batch["caption"]), own, module.scorer.logit_scale)
    module.log = lambda *a, **k: None  # no trainer attached
    torch.testing.assert_close(module.training_step(batch, 0), expected, atol=1e-6, rtol=0)


@torch.no_grad()
def test_hp_hn_step_and_missing_columns() -> None:
    module = NegCLIP(negative_keys=["relation_negative"], positive_key="relation_positive", hard_negative_ratio=0.5,
                     model_seed=0).eval()  # fmt: skip
    module.log = lambda *a, **k: None
    batch = _batch()
    images = module.scorer.encode_image(batch["image"], normalize=True)
    expected = HardPositiveNegativeLoss(0.5)(
        images, _features(module, batch["caption"]), _features(module, batch["relation_positive"]),
        _features(module, batch["relation_negative"]), module.scorer.logit_scale,
    )  # fmt: skip
    torch.testing.assert_close(module.training_step(batch, 0), expected, atol=1e-6, rtol=0)
    del batch["relation_positive"]
    with pytest.raises(KeyError, match=r"needs batch columns \['relation_positive'\]"):
        module.training_step(batch, 0)


def test_hard_positive_negative_is_negclip_with_a_positive_column() -> None:
    from vlmrobust.train.negclip import HardPositiveNegative

    module = HardPositiveNegative(hard_negative_ratio=0.25, model_seed=0)
    assert module.negative_keys == ["relation_negative"] and module.positive_key == "relation_positive"
    assert isinstance(module.hn_loss, HardPositiveNegativeLoss) and module.hn_loss.hard_negative_ratio == 0.25
    with pytest.raises(ValueError, match="NegCLIP trains on captions"):
        HardPositiveNegative(objective="cross_entropy")


def test_validation_logs_and_stores_the_worlds_whatsup_and_aro_cells(tmp_path) -> None:
    import lightning.pytorch as pl

    from vlmrobust.core.store import ResultsStore
    from vlmrobust.eval.robustness_callback import RobustnessCallback

    dm = WorldDataModule(seed=0, train_size=4, eval_size=4, batch_size=4, train_data="scenes",
                         benchmarks=["whatsup-world", "aro-world-relation"], benchmark_pairs=2,
                         benchmark_dir=str(tmp_path / "world"))  # fmt: skip
    callback = RobustnessCallback(results_db=str(tmp_path / "r.db"), run_name="negclip", print_table=False)
    trainer = pl.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                         num_sanity_val_steps=0, enable_progress_bar=False, enable_model_summary=False,
                         default_root_dir=tmp_path, callbacks=[callback])  # fmt: skip
    trainer.fit(NegCLIP(model_seed=0), datamodule=dm)
    logged = trainer.callback_metrics
    for key in ("val/whatsup-world/pair", "val/whatsup-world/set_of_4", "val/aro-world-relation/macro",
                "robustness/world.sketch/ood_probit"):  # fmt: skip
        assert key in logged, key
    cells = ResultsStore(tmp_path / "r.db").cells(eval_set="whatsup-world", metric="pair")
    assert cells["protocol"].tolist() == ["captions/score"] and cells["step"].tolist() == [1]
    assert float(logged["val/whatsup-world/pair"]) == cells["value"].item()
