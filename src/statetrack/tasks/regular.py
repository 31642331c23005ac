"""Any regular language as a task: a regex or a DFA, labelled at every position.

Words are drawn uniformly over the alphabet. With ``output="accept"`` (default) the class after
each prefix is whether the DFA accepts it (classes ``reject``, ``accept``); with
``output="state"`` it is the DFA's state itself (classes the states). The DFA is completed and
restricted to its reachable part first, so every state can occur.

    regex (ab)*  over ab,   input  a b a b b
                            target 0 1 0 1 0       (ab and abab are in the language)

.automata.dfa import DFA
>>> import torch
>>> from statetrack.automata.dfa import DFA
>>> d = DFA(alphabet="ab", table=[[1, 2], [2, 0], [2, 2]], start=0, accepting={0})   # (ab)*
>>> RegularTask(d).label(torch.tensor([[0, 1, 0, 1, 1]])).targets.tolist()
[[0, 1, 0, 1, 0]]
"""
from __future__ import annotations

import numpy as np

from statetrack.automata.dfa import DFA
from statetrack.tasks.base import AutomatonTask, TaskError

OUTPUTS = ("accept", "state")


class RegularTask(AutomatonTask):
    """A DFA as a task; ``source`` records where it came from (regex and alphabet, or a file)."""

    name = "dfa"

    def __init__(self, dfa: DFA, output: str = "accept", source: dict | None = None):
        if output not in OUTPUTS:
            raise TaskError(f"unknown output {output!r} for a regular task; choose from {', '.join(OUTPUTS)}")
        self.dfa = dfa.complete().reachable()
        self.output = output
        self.source = source or {"dfa": self.dfa.to_json()}
        self.tokens = self.dfa.alphabet
        self.classes = ("reject", "accept") if output == "accept" else \
            tuple(self.dfa.label(q) for q in range(self.dfa.n_states))

    def options(self) -> dict:
        return {**self.source, "output": self.output}

    def automaton(self) -> DFA:
        return self.dfa

    @property
    def label_of_state(self) -> np.ndarray:
        if self.output == "accept":
            return self.dfa.accepting_mask.astype(np.int64)
        return np.arange(self.dfa.n_states)


def regex_task(regex: str, alphabet: str, output: str = "accept") -> RegularTask:
    """The task of the minimal DFA of ``regex`` over ``alphabet`` (one character per symbol)."""
    if not isinstance(regex, str) or not isinstance(alphabet, str) or not alphabet:
        raise TaskError("a regex task needs the options regex=PATTERN and alphabet=SYMBOLS")
    dfa = DFA.from_regex(regex, alphabet)
    t = RegularTask(dfa, output, source={"regex": regex, "alphabet": alphabet})
    t.name = "regex"
    return t


def dfa_task(dfa: dict | str, output: str = "accept") -> RegularTask:
    """The task of a DFA given as its JSON object, or as the path of a JSON file.

    The options stored with a run always hold the DFA itself, so a results file is self-contained.
    """
    d = DFA.from_json(dfa) if isinstance(dfa, dict) else DFA.load(dfa)
    t = RegularTask(d, output, source={"dfa": d.to_json()})
    t.name = "dfa"
    return t


__all__ = ["RegularTask", "regex_task", "dfa_task"]
