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
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import ProgressBar, RichProgressBar, TQDMProgressBar
from lightning.pytorch.cli import ArgsType, LightningArgumentParser, LightningCLI

from vlmrobust.core.console import quiet_console
from vlmrobust.train import strategies as _strategies  # noqa: F401 (registers --trainer.strategy fsdp2)
from vlmrobust.train.config_errors import ArgumentParser, strategy_hint
from vlmrobust.train.progress import StepProgressBar
from vlmrobust.train.wiseft import WiseFT


class VlmrobustCLI(LightningCLI):
    """LightningCLI with subclass mode for models and data, so any module/DataModule can be configured.

    On top of LightningCLI: the resolved config is bound to the callbacks that identify runs by it
    (``RobustnessCallback.bind_config``); library noise goes to ``<default_root_dir>/vlmrobust.log`` instead
    of the console (``vlmrobust.core.console``); the training bar counts steps when ``max_steps`` is set;
    ``validate``/``test`` print the accuracy table of the ``RobustnessCallback`` instead of Lightning's
    per-dataloader tables.
    """

    def __init__(self, args: Sequence[str] | None = None, run: bool = True) -> None:
        quiet_console()
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

    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        """The trainer; a step-bounded run (``max_steps``) gets ``StepProgressBar`` in place of Lightning's
        default bar (Rich or tqdm, which count the batches of an epoch: "Epoch 0/-2")."""
        try:
            trainer = super().instantiate_trainer(**kwargs)
        except ValueError as err:
            strategy = self.config_init[self.subcommand]["trainer"].get("strategy")
            if "strategy" in str(err) and isinstance(strategy, str):
                self.parser.error(strategy_hint(strategy))
            raise
        bars = [cb for cb in trainer.callbacks if isinstance(cb, ProgressBar)]
        default = len(bars) == 1 and type(bars[0]) in (TQDMProgressBar, RichProgressBar)
        if default and trainer.max_steps > 0:
            trainer.callbacks[trainer.callbacks.index(bars[0])] = StepProgressBar()
        quiet_console(Path(trainer.default_root_dir) / _log_name(trainer.global_rank))
        return trainer

    def validate(self, **kwargs: Any) -> Any:
        """``trainer.validate`` without Lightning's per-dataloader tables (the callback prints one table)."""
        return self.trainer.validate(**{**kwargs, "verbose": False})

    def test(self, **kwargs: Any) -> Any:
        """``trainer.test`` without Lightning's per-dataloader tables (the callback prints one table)."""
        return self.trainer.test(**{**kwargs, "verbose": False})

    def before_fit(self) -> None:
        """Bind the resolved config to the callbacks that identify runs by it (``RobustnessCallback``)."""
        self._bind_run_config()

    def after_fit(self) -> None:
        """Evaluate the WiSE-FT ensembles of every ``WiseFT`` callback (each α its own run)."""
        for callback in self.trainer.callbacks:
            if isinstance(callback, WiseFT):
                callback.evaluate(self.trainer, self.model, self.datamodule)

    def before_validate(self) -> None:
        """As ``before_fit``."""
        self._bind_run_config()

    def before_test(self) -> None:
        """As ``before_fit``."""
        self._bind_run_config()

    def _bind_run_config(self) -> None:
        config = self.config[self.subcommand].as_dict()
        if self.subcommand == "fit":
            config.pop("ckpt_path", None)  # resuming a run continues the same run
        for callback in self.trainer.callbacks:
            bind = getattr(callback, "bind_config", None)
            if callable(bind):
                bind(config)


def _log_name(rank: int) -> str:
    return "vlmrobust.log" if rank == 0 else f"vlmrobust.rank{rank}.log"


def _weights_error(err: BaseException) -> BaseException | None:
    """The ``WeightsNotCachedError`` behind ``err`` (jsonargparse wraps errors raised while a class in the
    config is built into a ValueError listing every Union subtype it tried), or ``None``."""
    from vlmrobust.models.checkpoints import WeightsNotCachedError

    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, WeightsNotCachedError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _cli(subcommand: str, args: list[str]) -> int:
    """Run the CLI; a model whose weights are not cached is one line (exit 2), not a traceback."""
    from vlmrobust.core.errors import report

    try:
        VlmrobustCLI(args=args)
    except ValueError as err:
        cause = _weights_error(err)
        if cause is None:
            raise
        return report(subcommand, str(cause))
    return 0


def _run(subcommand: str, argv: Sequence[str] | None) -> int:
    return _cli(subcommand, [subcommand, *(sys.argv[1:] if argv is None else argv)])


def fit_main(argv: Sequence[str] | None = None) -> int:
    """``vlmrobust fit``: train (and validate) a model from a config."""
    return _run("fit", argv)


def validate_main(argv: Sequence[str] | None = None) -> int:
    """``vlmrobust validate``: run the validation loop (e.g. on a checkpoint via ``--ckpt_path``)."""
    return _run("validate", argv)


def test_main(argv: Sequence[str] | None = None) -> int:
    """``vlmrobust test``: run the test loop."""
    return _run("test", argv)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vlmrobust.train.cli <fit|validate|test> …`` (for torchrun / fabric run)."""
    args = list(sys.argv[1:] if argv is None else argv)
    return _cli(args[0] if args else "fit", args)


if __name__ == "__main__":
    sys.exit(main())
