"""A tiny CLIPFineTune fit that checkpoints every step, for the kill-and-resume test.

Usage: python resumable_fit.py ROOT STEPS [--resume]. Writes ROOT/ckpts/step=<n>.ckpt and last.ckpt every
step, ROOT/losses.jsonl (step, loss) per step, ROOT/final.safetensors (the module's weights) at the end and
the final validation into ROOT/results.db.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from safetensors.torch import save_file

from vlmrobust.data.datamodules import WorldDataModule
from vlmrobust.eval.robustness_callback import RobustnessCallback
from vlmrobust.train.clip_finetune import CLIPFineTune


class LossLog(pl.Callback):
    def __init__(self, path: Path) -> None:
        self.path = path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps({"step": trainer.global_step, "loss": float(outputs["loss"])}) + "\n")


def main() -> None:
    root, steps, resume = Path(sys.argv[1]), int(sys.argv[2]), "--resume" in sys.argv
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    pl.seed_everything(0, verbose=False)
    checkpoints = ModelCheckpoint(dirpath=root / "ckpts", filename="{step}", every_n_train_steps=1,
                                  save_top_k=-1, save_last=True)  # fmt: skip
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, max_steps=steps, logger=False, enable_progress_bar=False,
        enable_model_summary=False, num_sanity_val_steps=0, val_check_interval=steps,
        check_val_every_n_epoch=None, default_root_dir=root, deterministic=True,
        callbacks=[checkpoints, LossLog(root / "losses.jsonl"),
                   RobustnessCallback(results_db=str(root / "results.db"), run_name="resume", print_table=False)],
    )  # fmt: skip
    module = CLIPFineTune(lr=3e-3, warmup_steps=2, model_seed=0)
    dm = WorldDataModule(
        seed=0, train_size=28, eval_size=8, batch_size=8, shifts=("sketch",)
    )  # 4 batches/epoch
    trainer.fit(module, datamodule=dm, ckpt_path="last" if resume else None)
    save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(root / "final.safetensors"))


if __name__ == "__main__":
    main()
