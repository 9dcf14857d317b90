"""The dispatcher's table of known subcommands matches the installed ``vlmrobust.commands`` entry points."""

from __future__ import annotations

from importlib.metadata import entry_points

from vlmrobust.core.cli import COMMAND_GROUP, KNOWN_PROVIDERS, available_commands


def test_known_providers_equal_the_registered_entry_points() -> None:
    registered = {ep.name: ep.dist.name for ep in entry_points(group=COMMAND_GROUP) if ep.dist is not None}
    assert registered == KNOWN_PROVIDERS


def test_every_subcommand_is_registered_once() -> None:
    names = [ep.name for ep in entry_points(group=COMMAND_GROUP)]
    assert sorted(names) == sorted(set(names)) == sorted(available_commands())
