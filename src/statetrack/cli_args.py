"""Argument parsing shared by every ``statetrack`` command: one-line errors and checked numbers.

:class:`Parser` is argparse's parser with two changes: a usage error is one line on stderr
(``statetrack compile: error: ...; see statetrack compile --help``) with exit status 2, and every
option's help shows its default. The ``*_int`` functions are argparse ``type=`` callables that
refuse out-of-range numbers with a message naming the bound.
"""
from __future__ import annotations

import argparse
import math
import sys


class LazyHelp(str):
    """Help text computed only when --help is shown: ``LazyHelp(lambda: "...")``.

    For defaults that live in modules too heavy to import at start-up (torch)."""

    def __new__(cls, make):
        obj = super().__new__(cls, "(computed when shown)")
        obj.make = make
        return obj


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks; appends ``(default: X)`` to every optional option's help
    that does not state its default (``none`` for no value, ``off`` for a flag)."""

    def _get_help_string(self, action):
        text = action.help.make() if isinstance(action.help, LazyHelp) else (action.help or "")
        if "default" in text or not action.option_strings or action.required or action.default is argparse.SUPPRESS:
            return text
        if action.default is None or (isinstance(action.default, list) and not action.default):
            shown = "none"
        elif action.default is False and action.nargs == 0:
            shown = "off"
        else:
            shown = "%(default)s"
        return f"{text} (default: {shown})" if text else f"(default: {shown})"


class Parser(argparse.ArgumentParser):
    """argparse.ArgumentParser whose errors are one line and whose help shows defaults."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        print(f"{self.prog}: error: {message}; see {self.prog} --help", file=sys.stderr)
        sys.exit(2)


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def nonneg_int(text: str) -> int:
    """An integer >= 0 (counts that may be zero, seeds, lengths)."""
    v = _int(text)
    if v < 0:
        raise argparse.ArgumentTypeError(f"{v} is negative; give 0 or more")
    return v


def pos_int(text: str) -> int:
    """An integer >= 1 (sizes, limits, steps)."""
    v = _int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{v} is not positive; give 1 or more")
    return v


def nonneg_float(text: str) -> float:
    """A finite number >= 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a finite number >= 0")
    return v


def pos_float(text: str) -> float:
    """A finite number > 0."""
    v = nonneg_float(text)
    if v == 0:
        raise argparse.ArgumentTypeError("0 is not positive")
    return v


def int_ranges(text: str) -> list[int]:
    """A comma list of integers >= 0 and ranges ``lo-hi`` (``3-9``, ``3,4,5``, ``0,7-10``), in the order
    given. ValueError names the first part that is neither (negative numbers, reversed ranges)."""
    out: list[int] = []
    for part in text.split(","):
        lo, dash, hi = part.strip().partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()) or int(hi or lo) < int(lo):
            raise ValueError(part.strip())
        out += range(int(lo), int(hi or lo) + 1)
    return out
