"""Config errors that name the valid choices: unknown init args of a ``class_path``, unknown recipe,
DataModule or loss classes, and unknown strategy names get did-you-mean lists."""

from __future__ import annotations

import contextlib
import inspect
import io
import re
import sys
from importlib import import_module
from typing import NoReturn

from lightning.pytorch.cli import LightningArgumentParser

from vlmrobust.core.suggest import did_you_mean

_CLASS_PATH = re.compile(r"class_path '([\w.]+)'")
_UNKNOWN_OPTION = re.compile(r"Option '(\w+)' is not accepted")
_PARSER_KEY = re.compile(r'Parser key "([\w.]+)":')
_BAD_CLASS = re.compile(r"Problem with given class_path '([\w.]+)':\s*\n\s*(?:module|No module)")

#: The classes a config key may name, by the key's last part (``model``, ``data``, ``model.init_args.loss``).
CHOICES: dict[str, tuple[str, ...]] = {
    "model": (
        "vlmrobust.train.clip_finetune.CLIPFineTune",
        "vlmrobust.train.negclip.NegCLIP",
        "vlmrobust.train.negclip.HardPositiveNegative",
        "vlmrobust.train.linear_probe.LinearProbe",
    ),
    "data": (
        "vlmrobust.data.datamodules.WorldDataModule",
        "vlmrobust.data.datamodules.ImageNetDataModule",
        "vlmrobust.data.datamodules.CaptionsDataModule",
        "vlmrobust.data.datamodules.FeatureDataModule",
    ),
    "loss": ("vlmrobust.train.losses.InfoNCE", "vlmrobust.train.losses.SigmoidLoss"),
}
CHOICES["source"] = CHOICES["eval_data"] = CHOICES["data"]


def init_arg_names(class_path: str) -> list[str]:
    """Names of the constructor arguments of ``class_path`` (``module.Class``), or [] if not importable."""
    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return []
    names: list[str] = []
    for klass in cls.__mro__:  # a constructor forwarding **kwargs takes its parent's arguments too
        if "__init__" not in vars(klass):
            continue
        params = list(inspect.signature(klass.__init__).parameters.values())
        names += [p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
                  and p.name not in names]  # fmt: skip
        if not any(p.kind == p.VAR_KEYWORD for p in params):
            break
    return names


def explain(message: str) -> str:
    """Append the valid init args (with did-you-mean) for every unknown option of a class in ``message``."""
    hints = []
    for class_path, option in zip(
        _CLASS_PATH.findall(message), _UNKNOWN_OPTION.findall(message), strict=False
    ):
        valid = init_arg_names(class_path)
        if valid:
            hints.append(
                f"{class_path}: unknown init arg '{option}'. {did_you_mean(option, valid, 'init args')}"
            )
    for bad in _BAD_CLASS.finditer(message):  # an unimportable class, under the nearest parser key before it
        keys = _PARSER_KEY.findall(message, 0, bad.start())
        key, class_path = (keys[-1] if keys else ""), bad.group(1)
        choices = CHOICES.get(key.rpartition(".")[2])
        hint = f"{key}: unknown class {class_path!r}."
        if choices and hint not in message:  # a nested parser explained it already
            hints.append(f"{hint} {did_you_mean(class_path, choices, 'classes')}")
    return message if not hints else message + "\n" + "\n".join(hints)


def strategy_hint(name: str) -> str:
    """The valid strategy names (Lightning's registry and this project's FSDP2 class) for an unknown ``name``."""
    from lightning.pytorch.strategies import StrategyRegistry

    choices = [*StrategyRegistry.available_strategies(), "auto", "vlmrobust.train.strategies.FSDP2Strategy"]
    return f"unknown strategy {name!r}. {did_you_mean(name, choices, 'strategies')}"


class ArgumentParser(LightningArgumentParser):
    """``LightningArgumentParser`` whose errors list the valid init args of a misconfigured class.

    Errors are printed as every ``vlmrobust`` command prints them: the usage, then
    ``<command>: error: <message>`` (``command`` is set by ``VlmrobustCLI``, e.g. ``"vlmrobust fit"``);
    the exit code stays 2.
    """

    command: str = "vlmrobust"  # prefix of error messages

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        printed = io.StringIO()
        try:
            with contextlib.redirect_stderr(printed):
                super().error(explain(message), ex)
        finally:
            sys.stderr.write(
                re.sub(r"^error: ", f"{self.command}: error: ", printed.getvalue(), count=1, flags=re.M)
            )
