"""Automata with an output class per state (Moore machines): what extraction learns and compares.

A classifier network labels every prefix with one of several classes (parity: even/odd; a word
problem: a group element; a compiled regex: reject/accept), so the automaton it implements is a
:class:`Moore` machine: a complete :class:`~statetrack.automata.dfa.DFA` plus ``outputs[q]``, the
class of state q. A DFA is the two-class case (``outputs = accepting``). A target may leave some
states unlabelled (``outputs[q] = -1``: the task gives no label there); such positions are "don't
care" when machines are compared (:mod:`statetrack.extract.equivalence`).

Minimization reuses the Myhill–Nerode refinement of :mod:`statetrack.automata.minimize`, which
splits states by any integer output, not only by an accept bit.

>>> from statetrack.automata.dfa import DFA
>>> d = DFA(alphabet="ab", table=[[1, 0], [0, 1]], start=0, accepting={1})
>>> m = Moore.from_dfa(d)
>>> m.run_outputs(np.array([[0, 0, 1]])).tolist()          # a, a, b: states 1, 0, 0
[[0, 1, 0, 0]]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from statetrack.automata.dfa import DFA
from statetrack.automata.minimize import nerode_classes
from statetrack.errors import DFAError


@dataclass(frozen=True)
class Moore:
    """A complete DFA with an output class per state.

    Attributes:
        dfa: complete DFA (its ``accepting`` set is the states whose class is in ``accept_classes``).
        outputs: int64 (n_states,): class of each state, -1 for "no label".
        classes: display name of each class (index = class id).
    """

    dfa: DFA
    outputs: np.ndarray
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        out = np.asarray(self.outputs, dtype=np.int64).reshape(-1)
        if not self.dfa.is_complete:
            raise DFAError("a Moore machine needs a complete DFA")
        if out.shape != (self.dfa.n_states,):
            raise DFAError(f"{out.shape[0]} outputs for {self.dfa.n_states} states")
        if out.size and (out.min() < -1 or out.max() >= len(self.classes)):
            raise DFAError(f"outputs must be class ids in -1..{len(self.classes) - 1}")
        out.setflags(write=False)
        object.__setattr__(self, "outputs", out)
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))

    # ------------------------------------------------------------------ building
    @classmethod
    def from_dfa(cls, dfa: DFA) -> Moore:
        """The two-class machine of a DFA: class 1 (``accept``) on accepting states, else 0."""
        d = dfa.complete()
        return cls(d, d.accepting_mask.astype(np.int64), ("reject", "accept"))

    @classmethod
    def from_table(cls, alphabet, table, start: int, outputs, classes, accept_classes=()) -> Moore:
        """Build from a transition table (n, m) and outputs (n,); states whose class is in
        ``accept_classes`` become the DFA's accepting states."""
        outputs = np.asarray(outputs, dtype=np.int64)
        accepting = {q for q, o in enumerate(outputs.tolist()) if o in set(accept_classes)}
        dfa = DFA(alphabet=tuple(alphabet), table=table, start=start, accepting=accepting,
                  labels=tuple(str(classes[o]) if 0 <= o < len(classes) else "-" for o in outputs.tolist()))
        return cls(dfa, outputs, tuple(classes))

    @property
    def n_states(self) -> int:
        return self.dfa.n_states

    @property
    def accept_classes(self) -> frozenset[int]:
        return frozenset(int(self.outputs[q]) for q in self.dfa.accepting)

    # ------------------------------------------------------------------ running
    def run_outputs(self, codes: np.ndarray) -> np.ndarray:
        """Class before and after each letter: codes int (N, L) -> int64 (N, L + 1)."""
        return self.outputs[self.dfa.trajectory(codes)]

    # ------------------------------------------------------------------ minimizing
    def minimize(self) -> Moore:
        """The canonical minimal machine: reachable states only, states with the same future
        outputs merged, BFS-numbered from the start (successors in alphabet order)."""
        labels = tuple(str(q) for q in range(self.n_states))        # carry old ids through reachable()
        d = DFA(alphabet=self.dfa.alphabet, table=self.dfa.table, start=self.dfa.start,
                accepting=self.dfa.accepting, labels=labels).reachable()
        old = np.array([int(x) for x in d.labels], dtype=np.int64)
        out = self.outputs[old]
        cls = nerode_classes(d.table, out)                               # (n,) class ids
        k = int(cls.max()) + 1
        table = np.empty((k, d.n_symbols), dtype=np.int64)
        table[cls] = cls[d.table]
        q_out = np.empty(k, dtype=np.int64)
        q_out[cls] = out
        qlabels = tuple(str(i) for i in range(k))
        q = DFA(alphabet=d.alphabet, table=table, start=int(cls[d.start]), accepting=set(), labels=qlabels).reachable()
        order = np.array([int(x) for x in q.labels], dtype=np.int64)
        return Moore.from_table(q.alphabet, q.table, q.start, q_out[order], self.classes, self.accept_classes)

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict:
        """The project's DFA JSON plus ``outputs`` (class id per state) and ``classes``."""
        d = self.dfa.to_json()
        d["outputs"] = [int(x) for x in self.outputs]
        d["classes"] = list(self.classes)
        return d

    @classmethod
    def from_json(cls, data: dict) -> Moore:
        """Read :meth:`to_json`'s format; a plain DFA JSON reads as its two-class machine."""
        dfa = DFA.from_json(data)
        if "outputs" not in data:
            return cls.from_dfa(dfa)
        if not isinstance(data.get("classes"), list):
            raise DFAError("a Moore machine JSON with 'outputs' needs 'classes' (a list of class names)")
        return cls(dfa.complete(), data["outputs"], tuple(data["classes"]))
