"""Every option of every command explains itself and its default; help shows no module docstrings."""
import argparse

import pytest

from statetrack.cli import build_parser


def commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices.items())


def undocumented(parser: argparse.ArgumentParser) -> list[str]:
    """Options whose help is missing or names no default (the -h/--help action aside)."""
    formatter = parser._get_formatter()
    bad = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        text = formatter._expand_help(action) if action.help else ""
        name = "/".join(action.option_strings) or action.dest
        if not text.strip():
            bad.append(f"{name}: no help")
        elif action.option_strings and not action.required and "default" not in text:
            bad.append(f"{name}: no default in {text!r}")
    return bad


@pytest.mark.parametrize("name, parser", commands(), ids=[n for n, _ in commands()])
def test_every_option_has_help_with_its_default(name, parser):
    assert undocumented(parser) == []


@pytest.mark.parametrize("name, parser", commands(), ids=[n for n, _ in commands()])
def test_help_shows_no_module_docstring(name, parser):
    import importlib

    text = parser.format_help()
    for module in ("statetrack.cli", "statetrack.train.cli", "statetrack.reports.cli", "statetrack.proofs_check.cli"):
        doc = (importlib.import_module(module).__doc__ or "").strip()
        assert not doc or doc.splitlines()[0].strip() not in text, module


def test_one_spelling_for_the_output_option():
    for name, parser in commands():
        flags = {s for a in parser._actions for s in a.option_strings}
        assert "--output" not in flags, name
        if any(a.dest == "out" for a in parser._actions):
            assert {"-o", "--out"} <= flags, name


def test_the_checker_flags_an_undocumented_option():
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, default=3, help="how many")
    p.add_argument("--bare")
    assert undocumented(p) == ["--count: no default in 'how many'", "--bare: no help"]
