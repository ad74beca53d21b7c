"""The ``cascadener`` help: every option of every sub-command explained, grouped, with its default,
and offering exactly the values the library accepts."""

from __future__ import annotations

import argparse

import pytest

from cascadener.cli import SUBCOMMANDS, build_parser


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    return dict(action.choices)


COMMANDS = _subparsers()


def test_every_subcommand_is_checked():
    assert set(COMMANDS) == {name.replace("_", "-") for name in SUBCOMMANDS}


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [action for action in parser._actions if not isinstance(action, argparse._HelpAction)]  # noqa: SLF001


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_has_help(command):
    missing = [action.option_strings[0] if action.option_strings else action.dest
               for action in _options(COMMANDS[command]) if not (action.help or "").strip()]
    assert not missing, f"cascadener {command}: options without help: {missing}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_is_in_a_named_group(command):
    parser = COMMANDS[command]
    default_groups = {parser._optionals, parser._positionals}  # noqa: SLF001 - "options", "positional arguments"
    loose = [action.option_strings[0] if action.option_strings else action.dest
             for group in default_groups for action in group._group_actions  # noqa: SLF001
             if not isinstance(action, argparse._HelpAction)]  # noqa: SLF001
    assert not loose, f"cascadener {command}: options outside a group (input, model, output, ...): {loose}"
    titles = [group.title for group in parser._action_groups if group not in default_groups]  # noqa: SLF001
    assert titles and len(titles) == len(set(titles))


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_shows_each_default_once(command):
    parser = COMMANDS[command]
    assert issubclass(parser.formatter_class, argparse.ArgumentDefaultsHelpFormatter)
    formatter = parser._get_formatter()  # noqa: SLF001
    for action in _options(parser):
        shown = formatter._expand_help(action)  # noqa: SLF001 - the text --help prints for the option
        count = shown.count("(default:")
        if action.default is None or action.default is False:
            assert count == 0, f"cascadener {command} {action.dest}: {shown!r}"
        else:
            assert count == 1, f"cascadener {command} {action.dest}: {shown!r}"
    text = parser.format_help()
    assert "%(" not in text


def _choices(command: str, dest: str) -> tuple:
    return tuple(next(a for a in COMMANDS[command]._actions if a.dest == dest).choices)  # noqa: SLF001


def test_choices_are_the_library_constants():
    from dynamicner_f1 import MATCHING

    from cascadener.backends.base import CLASSIFY_MODES, OFF_LIST_FALLBACKS
    from cascadener.backends.registry import BACKENDS
    from cascadener.backends.server import SERVER_CONSTRAINTS
    from cascadener.methods import METHODS
    from cascadener.prompts import STAGE2_TEMPLATES
    from cascadener.training.sft import LIST_SOURCES

    for command in ("predict", "run"):
        assert _choices(command, "classification") == CLASSIFY_MODES
        assert _choices(command, "template") == STAGE2_TEMPLATES
        assert _choices(command, "backend") == tuple(BACKENDS)
        assert _choices(command, "method") == tuple(METHODS)
        assert _choices(command, "server_constraints") == SERVER_CONSTRAINTS
    assert _choices("predict", "off_list") == OFF_LIST_FALLBACKS
    assert _choices("train", "template") == STAGE2_TEMPLATES
    assert set(LIST_SOURCES) < set(_choices("train", "lists"))
    assert _choices("evaluate", "matching") == MATCHING == _choices("leaderboard", "matching")


def test_the_help_of_a_command_reads_well():
    text = COMMANDS["predict"].format_help()
    for title in ("input:", "model:", "prediction:", "output:", "server (--backend openai"):
        assert title in text
    assert "sentences (stage 1) or questions (stage 2) per forward pass (default: 8)" in " ".join(text.split())
    run = " ".join(COMMANDS["run"].format_help().split())
    assert "(default: en es fr ru de zh ja ko)" in run  # a list default as typed on the command line
