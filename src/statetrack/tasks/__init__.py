"""Tasks: one file per task, each a vectorized sampler behind :class:`~statetrack.tasks.base.Task`.

    make_task("parity")                                   # a registered task
    make_task("word_problem", {"group": "S5", "variant": "swaps"})
    make_task("S5_swaps")                                 # the same, by its preset name
    make_task(*parse_task_spec("counting:m=5"))           # "NAME[:key=value,...]" from a CLI

:data:`TASKS` maps names to constructors (their keyword arguments are the options) and
:data:`PRESETS` names the paper's configurations; both drive the CLI and sweeps.
"""
from __future__ import annotations

import inspect

from statetrack.tasks.base import Batch, Task, TaskError
from statetrack.tasks.brackets import ModularArithmeticBrackets
from statetrack.tasks.counting import Counting
from statetrack.tasks.cycle_navigation import CycleNavigation
from statetrack.tasks.even_pairs import EvenPairs
from statetrack.tasks.final_label import FORMATS, FinalLabel
from statetrack.tasks.modular_arithmetic import ModularArithmetic
from statetrack.tasks.parity import Parity
from statetrack.tasks.regular import RegularTask, dfa_task, regex_task
from statetrack.tasks.word_problem import WordProblem

#: task name -> constructor; keyword arguments are the task's options
TASKS = {
    "parity": Parity,
    "even_pairs": EvenPairs,
    "cycle_navigation": CycleNavigation,
    "modular_arithmetic": ModularArithmetic,
    "modular_arithmetic_brackets": ModularArithmeticBrackets,
    "counting": Counting,
    "word_problem": WordProblem,
    "regex": regex_task,
    "dfa": dfa_task,
}

#: preset name -> (task name, options): the configurations of P1/P2's experiments
PRESETS = {
    "counting_mod3": ("counting", {"m": 3}),
    "counting_mod5": ("counting", {"m": 5}),
    **{g: ("word_problem", {"group": g}) for g in ("S3", "S4", "S5", "A4", "A5", "Z60", "A4xZ5")},
    "S3_swaps": ("word_problem", {"group": "S3", "variant": "swaps"}),
    "S5_swaps": ("word_problem", {"group": "S5", "variant": "swaps"}),
    "S5_tokens4": ("word_problem", {"group": "S5", "tokens_per_element": 4}),
    "A5_tokens4": ("word_problem", {"group": "A5", "tokens_per_element": 4}),
    # P1's official formats: one label per word, at its end (statetrack.tasks.final_label)
    "parity_p1": ("parity", {"labels": "final"}),
    "modular_arithmetic_p1": ("modular_arithmetic", {"m": 5, "labels": "final"}),
    "modular_arithmetic_brackets_p1": ("modular_arithmetic_brackets", {"m": 5}),
}


def _coerce(value: str):
    low = value.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(value)
    except ValueError:
        return value


def parse_task_spec(spec: str) -> tuple[str, dict]:
    """``"NAME"`` or ``"NAME:key=value,key=value"`` -> (name, options); values become int/bool
    where they read as one. (Options holding commas, such as a regex, go in separately.)"""
    name, _, rest = spec.partition(":")
    options = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            raise TaskError(f"task option {item!r} in {spec!r} is not of the form key=value")
        options[key.strip()] = _coerce(value.strip())
    return name.strip(), options


def resolve(name: str, options: dict | None = None) -> tuple[str, dict]:
    """The registered task name and full options behind a name or preset."""
    options = dict(options or {})
    if name in PRESETS:
        base, preset = PRESETS[name]
        return base, {**preset, **options}
    if name not in TASKS:
        raise TaskError(f"unknown task {name!r}; choose from {', '.join(list(TASKS) + list(PRESETS))}")
    return name, options


def make_task(name: str, options: dict | None = None) -> Task:
    """Build a task by name (or preset) with options; TaskError names an unknown one.

    Every task takes the option ``labels``: ``"every"`` (default, a label at every labeled
    position) or ``"final"`` (P1's format, one label per word at its end; see
    :mod:`statetrack.tasks.final_label`)."""
    base, options = resolve(name, options)
    labels = options.pop("labels", "every")
    if labels not in FORMATS:
        raise TaskError(f"task option labels={labels!r} is not one of {', '.join(FORMATS)}")
    task = _build(base, options)
    return FinalLabel(task) if labels == "final" and not isinstance(task, ModularArithmeticBrackets) else task


def _build(base: str, options: dict) -> Task:
    ctor = TASKS[base]
    params = inspect.signature(ctor).parameters
    unknown = [k for k in options if k not in params]
    if unknown:
        raise TaskError(f"task {base!r} has no option {unknown[0]!r}; its options: {', '.join(params) or 'none'}")
    return ctor(**options)


def task_names() -> list[str]:
    return list(TASKS) + list(PRESETS)


__all__ = ["Batch", "Task", "TaskError", "TASKS", "PRESETS", "make_task", "parse_task_spec", "resolve",
           "task_names", "Parity", "EvenPairs", "CycleNavigation", "ModularArithmetic", "Counting",
           "WordProblem", "RegularTask", "regex_task", "dfa_task", "ModularArithmeticBrackets", "FinalLabel"]
