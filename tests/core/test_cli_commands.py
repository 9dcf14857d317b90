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


def test_help_lists_the_installed_commands_with_a_summary_each(capsys) -> None:
    from vlmrobust.core.cli import SUMMARIES, main

    assert sorted(SUMMARIES) == sorted(KNOWN_PROVIDERS)
    assert main(["--help"]) == 0
    listed = [line.split(None, 1) for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert [name for name, _ in listed] == sorted(available_commands())
    assert all(summary == SUMMARIES[name] for name, summary in listed)
