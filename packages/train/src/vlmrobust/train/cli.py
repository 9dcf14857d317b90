"""``vlmrobust fit|validate|test``: LightningCLI over any LightningModule and LightningDataModule.

Configs use ``class_path``/``init_args`` (constructor signatures are the schema), e.g.::

    vlmrobust fit --config configs/fit/quickstart.yaml
    vlmrobust fit --config configs/fit/quickstart.yaml --trainer.max_steps 50 --model.init_args.lr 1e-4
    torchrun --nnodes 2 --nproc-per-node 8 -m vlmrobust.train.cli fit --config configs/fit/….yaml
    fabric run --accelerator cuda --devices 8 path/to/vlmrobust/train/cli.py fit --config … --trainer.devices 8

Under ``torchrun``/``srun`` Lightning picks up the launcher's environment (``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR``); set ``trainer.num_nodes``/``trainer.devices`` to match.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import lightning.pytorch as pl
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI

from vlmrobust.train.config_errors import ArgumentParser


class VlmrobustCLI(LightningCLI):
    """LightningCLI with subclass mode for models and data, so any module/DataModule can be configured."""

    def __init__(self, args: Sequence[str] | None = None, run: bool = True) -> None:
        super().__init__(
            model_class=pl.LightningModule,
            datamodule_class=pl.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=list(args) if args is not None else None,
            run=run,
            save_config_kwargs={"overwrite": True},
            parser_class=ArgumentParser,
        )

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        """Parse as LightningCLI does; errors name the subcommand (``vlmrobust fit: error: …``)."""
        argv = sys.argv[1:] if args is None else args
        if (
            isinstance(parser, ArgumentParser)
            and isinstance(argv, list)
            and argv
            and argv[0] in self.subcommands()
        ):
            parser.command = f"vlmrobust {argv[0]}"
        super().parse_arguments(parser, args)


def _run(subcommand: str, argv: Sequence[str] | None) -> int:
    VlmrobustCLI(args=[subcommand, *(sys.argv[1:] if argv is None else argv)])
    return 0


def fit_main(argv: Sequence[str] | None = None) -> int:
    """``vlmrobust fit``: train (and validate) a model from a config."""
    return _run("fit", argv)


def validate_main(argv: Sequence[str] | None = None) -> int:
    """``vlmrobust validate``: run the validation loop (e.g. on a checkpoint via ``--ckpt_path``)."""
    return _run("validate", argv)


def test_main(argv: Sequence[str] | None = None) -> int:
    """``vlmrobust test``: run the test loop."""
    return _run("test", argv)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m vlmrobust.train.cli <fit|validate|test> …`` (for torchrun / fabric run)."""
    VlmrobustCLI(args=list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
