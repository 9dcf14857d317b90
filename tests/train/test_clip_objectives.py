"""CLIPFineTune objectives (captions, FLYP class prompts, zero-shot-initialised cross-entropy head) and
tower locks; the head is evaluated by the ``head/ce`` protocol and stored under it."""

from __future__ import annotations

import lightning.pytorch as pl
import pytest
import torch

from vlmrobust.core.store import ResultsStore
from vlmrobust.data.datamodules import WorldDataModule
from vlmrobust.eval.heads import build_zero_shot_head
from vlmrobust.eval.robustness_callback import RobustnessCallback
from vlmrobust.models.registry import load_scorer
from vlmrobust.models.tiny_hf import write_tiny_hf_clip
from vlmrobust.train.clip_finetune import CLIPFineTune

TEMPLATES = ("a photo of a {}.", "a drawing of a {}.", "a {} in the world.")


def _dm(**kw) -> WorldDataModule:
    return WorldDataModule(seed=0, train_size=16, eval_size=8, batch_size=8, shifts=("sketch",),
                           templates=TEMPLATES, **kw)  # fmt: skip


def _trainer(tmp_path, steps: int = 2, callbacks=()) -> pl.Trainer:
    return pl.Trainer(max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False,
                      num_sanity_val_steps=0, enable_progress_bar=False, enable_model_summary=False,
                      default_root_dir=tmp_path, callbacks=list(callbacks))  # fmt: skip


def _attach(module: CLIPFineTune, dm: WorldDataModule) -> None:
    """Run configure_model outside a fit (a stand-in trainer with only the DataModule)."""
    module._trainer = type("T", (), {"datamodule": dm})()
    module.configure_model()
    module._trainer = None
    module.log = lambda *a, **k: None


@pytest.mark.parametrize("spec", ["open_clip", "hf"])
def test_lock_tower_freezes_one_tower_and_keeps_it_in_eval_mode(spec, tmp_path) -> None:
    scorer = (load_scorer("open_clip:vlmrobust-tiny-clip", seed=0) if spec == "open_clip"
              else load_scorer(f"hf:{write_tiny_hf_clip(tmp_path / 'hf', seed=0)}"))  # fmt: skip
    image_prefix = "visual." if spec == "open_clip" else ("vision_model", "visual_projection")
    params = dict(scorer.model.named_parameters())
    scorer.lock_tower("image")
    frozen = {n for n, p in params.items() if not p.requires_grad}
    assert frozen == {n for n in params if n.startswith(image_prefix)} and frozen
    scorer.train()
    image_tower = scorer.model.visual if spec == "open_clip" else scorer.model.vision_model
    assert not image_tower.training and scorer.training
    scorer.lock_tower("text")  # everything but the temperature (and bias) is frozen now
    assert {n for n, p in params.items() if p.requires_grad} == {"logit_scale"}
    with pytest.raises(ValueError, match="unknown tower 'audio'"):
        scorer.lock_tower("audio")  # type: ignore[arg-type]


def test_class_prompt_captions_are_seeded_by_step_and_need_labels() -> None:
    module = CLIPFineTune(objective="class_prompts", model_seed=0)
    dm = _dm()
    _attach(module, dm)
    batch = next(iter(dm.train_dataloader()))
    captions = module._captions(batch)
    names = [dm.class_names[y] for y in batch["label"].tolist()]
    for caption, name in zip(captions, names, strict=True):
        assert caption in {t.format(name) for t in TEMPLATES}
    assert module._captions(batch) == captions  # same global step: same templates
    gen = torch.Generator().manual_seed(0)  # step 0's draws, by hand
    picks = torch.randint(3, (len(names),), generator=gen).tolist()
    assert captions == [TEMPLATES[t].format(n) for t, n in zip(picks, names, strict=True)]
    del batch["label"]
    with pytest.raises(KeyError, match="needs batch column 'label'"):
        module.training_step(batch, 0)


@torch.no_grad()
def test_cross_entropy_head_starts_as_the_zero_shot_classifier() -> None:
    module = CLIPFineTune(objective="cross_entropy", model_seed=0).eval()
    dm = _dm()
    _attach(module, dm)
    assert not any(p.requires_grad for n, p in module.scorer.model.named_parameters()
                   if not n.startswith("visual.") and n != "logit_scale")  # fmt: skip
    images = next(iter(dm.train_dataloader()))["image"]
    scorer = module.scorer
    text_head = build_zero_shot_head(scorer, dm.class_names, TEMPLATES)  # [C, D]
    expected = scorer.logit_scale * scorer.encode_image(images) @ text_head.T  # zero-shot logits
    torch.testing.assert_close(module.classifier().class_logits(images), expected, atol=1e-5, rtol=1e-5)


def test_cross_entropy_fit_trains_head_and_image_tower_and_stores_under_head_protocol(tmp_path) -> None:
    module = CLIPFineTune(objective="cross_entropy", model_seed=0, lr=1e-3, warmup_steps=0)
    dm = _dm()
    text_before = module.scorer.model.token_embedding.weight.clone()
    image_before = module.scorer.model.visual.conv1.weight.clone()
    db = tmp_path / "results.db"
    callback = RobustnessCallback(results_db=str(db), run_name="ce")
    trainer = _trainer(tmp_path, steps=2, callbacks=[callback])
    trainer.fit(module, datamodule=dm)
    assert not torch.equal(module.head.linear.weight, _initial_head(dm))
    assert torch.equal(module.scorer.model.token_embedding.weight, text_before)  # text tower untouched
    assert not torch.equal(module.scorer.model.visual.conv1.weight, image_before)
    trainer.validate(module, datamodule=dm)
    cells = ResultsStore(db).cells()
    assert set(cells["protocol"]) == {"head/ce"}
    assert set(cells["eval_set"]) == {"world/id", "world/sketch"}


def _initial_head(dm: WorldDataModule) -> torch.Tensor:
    """The head weights a fresh module of the same seed starts from."""
    fresh = CLIPFineTune(objective="cross_entropy", model_seed=0)
    _attach(fresh, dm)
    return fresh.head.linear.weight


def test_objective_errors() -> None:
    with pytest.raises(ValueError, match="unknown objective 'flyp'; valid: 'captions', 'class_prompts'"):
        CLIPFineTune(objective="flyp")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="LinearProbe"):
        CLIPFineTune(objective="cross_entropy", lock_image=True)
    module = CLIPFineTune(objective="class_prompts", model_seed=0)
    module._trainer = type("T", (), {"datamodule": object()})()
    with pytest.raises(AttributeError, match="needs a DataModule with `class_names` and `templates`"):
        module.configure_model()
    with pytest.raises(RuntimeError, match="only with objective='cross_entropy'"):
        CLIPFineTune(model_seed=0).classifier()
