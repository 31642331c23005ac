"""The deterministic finite automaton every other stage starts from.

A :class:`DFA` is frozen and validated when it is built. States are the integers ``0..n-1``
(optional labels are for display only); symbols are strings, and the transition table is a
read-only numpy array of shape ``(n_states, n_symbols)`` in which ``-1`` marks a missing
transition (a *partial* DFA; :meth:`DFA.complete` adds a sink state).

Words are sequences of symbols. A plain ``str`` is read one character per symbol, which is how
regex alphabets are written (``alphabet="ab"``); alphabets with multi-character symbols (group
elements, say) take lists or tuples of symbols.

Example
-------
>>> d = DFA(alphabet=("a", "b"), table=[[1, 0], [0, 1]], start=0, accepting={0})  # even number of a's
>>> d.accepts("abab"), d.accepts("ab")
(True, False)
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from statetrack.errors import AlphabetError, DFAError, LimitError

#: Default bound on the number of states of any automaton statetrack builds or loads.
DEFAULT_MAX_STATES = 4096

Word = str | Sequence[str]


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False, kw_only=True)
class DFA:
    """A (possibly partial) DFA over a finite alphabet of string symbols.

    Attributes:
        alphabet: the symbols; symbol ``alphabet[c]`` labels column ``c`` of ``table``.
        table: int64 array (n_states, n_symbols); ``table[q, c]`` is the next state or -1.
        start: the start state.
        accepting: the accepting states.
        labels: optional display names for the states, one per state.
    """

    alphabet: tuple[str, ...]
    table: np.ndarray
    start: int
    accepting: frozenset[int]
    labels: tuple[str, ...] | None = None
    _index: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        alphabet = tuple(self.alphabet)
        if not alphabet:
            raise AlphabetError("the alphabet is empty")
        for s in alphabet:
            if not isinstance(s, str) or not s:
                raise AlphabetError(f"alphabet symbols must be non-empty strings, got {s!r}")
        if len(set(alphabet)) != len(alphabet):
            dup = next(s for s in alphabet if alphabet.count(s) > 1)
            raise AlphabetError(f"symbol {dup!r} appears twice in the alphabet")
        try:
            table = np.asarray(self.table)
            if table.dtype == object or not (table.size == 0 or np.issubdtype(table.dtype, np.integer)):
                table = np.asarray(self.table, dtype=np.float64)
                if not np.all(table == np.round(table)):
                    raise ValueError
            table = table.astype(np.int64)
        except (ValueError, TypeError):
            raise DFAError("the transition table must hold integers (next state, or -1 for none)") from None
        if table.ndim != 2 or table.shape[0] == 0:
            raise DFAError(f"the transition table must be a non-empty 2-D array, got shape {table.shape}")
        n, m = table.shape
        if m != len(alphabet):
            raise DFAError(f"the transition table has {m} columns but the alphabet has {len(alphabet)} symbols")
        bad = np.argwhere((table < -1) | (table >= n))
        if len(bad):
            q, c = bad[0]
            raise DFAError(f"transition from state {q} on {alphabet[c]!r} goes to {table[q, c]}, "
                           f"not a state (0..{n - 1}, or -1 for none)")
        if not isinstance(self.start, (int, np.integer)) or not 0 <= self.start < n:
            raise DFAError(f"start state {self.start!r} is not a state (0..{n - 1})")
        accepting = frozenset(int(q) for q in self.accepting)
        for q in accepting:
            if not 0 <= q < n:
                raise DFAError(f"accepting state {q} is not a state (0..{n - 1})")
        labels = None if self.labels is None else tuple(str(x) for x in self.labels)
        if labels is not None and len(labels) != n:
            raise DFAError(f"{len(labels)} labels for {n} states")
        object.__setattr__(self, "alphabet", alphabet)
        object.__setattr__(self, "table", _readonly(table))
        object.__setattr__(self, "start", int(self.start))
        object.__setattr__(self, "accepting", accepting)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "_index", {s: i for i, s in enumerate(alphabet)})

    # ------------------------------------------------------------------ basic facts
    @property
    def n_states(self) -> int:
        return int(self.table.shape[0])

    @property
    def n_symbols(self) -> int:
        return len(self.alphabet)

    @property
    def is_complete(self) -> bool:
        return bool(np.all(self.table >= 0))

    @property
    def accepting_mask(self) -> np.ndarray:
        """Boolean array (n_states,): True at accepting states."""
        mask = np.zeros(self.n_states, dtype=bool)
        mask[list(self.accepting)] = True
        return mask

    def label(self, q: int) -> str:
        return self.labels[q] if self.labels is not None else str(q)

    def check_size(self, max_states: int = DEFAULT_MAX_STATES, what: str = "automaton") -> DFA:
        """Return self, or raise LimitError when there are more than ``max_states`` states."""
        if self.n_states > max_states:
            raise LimitError(f"the {what} has {self.n_states} states, over the limit of {max_states}",
                             api_hint="raise max_states", cli_hint="raise it with --max-states")
        return self

    # ------------------------------------------------------------------ words
    def encode(self, word: Word) -> np.ndarray:
        """Symbol indices (len(word),) int64; raises AlphabetError naming an unknown symbol."""
        try:
            return np.fromiter((self._index[s] for s in word), dtype=np.int64, count=len(word))
        except KeyError as e:
            raise AlphabetError(f"symbol {e.args[0]!r} is not in the alphabet "
                                f"{_show_alphabet(self.alphabet)}") from None

    def trace(self, word: Word) -> Iterator[int]:
        """Yield the state before the first symbol and after each symbol (-1 once stuck)."""
        q = self.start
        yield q
        for c in self.encode(word):
            q = int(self.table[q, c]) if q >= 0 else -1
            yield q

    def run(self, word: Word) -> int:
        """The state reached on ``word`` from the start state, or -1 (partial DFA, no transition)."""
        *_, q = self.trace(word)
        return q

    def accepts(self, word: Word) -> bool:
        q = self.run(word)
        return q >= 0 and q in self.accepting

    def run_batch(self, codes: np.ndarray, start: np.ndarray | int | None = None) -> np.ndarray:
        """Final states for many encoded words of one length.

        Args:
            codes: int array (N, L) of symbol indices.
            start: the state(s) to start from, scalar or (N,); default the start state.
        Returns:
            int64 array (N,): the state reached, -1 where a transition is missing.
        """
        codes = np.asarray(codes, dtype=np.int64)
        q = np.full(codes.shape[0], self.start if start is None else 0, dtype=np.int64)
        if start is not None:
            q[:] = start
        table = np.vstack([self.table, np.full((1, self.n_symbols), -1)])  # row -1 is the dead row
        for t in range(codes.shape[1]):
            q = table[q, codes[:, t]]
        return q

    def trajectory(self, codes: np.ndarray) -> np.ndarray:
        """States before and after each letter of many complete-DFA runs: codes (N, L) -> (N, L + 1)."""
        codes = np.asarray(codes, dtype=np.int64)
        out = np.empty((codes.shape[0], codes.shape[1] + 1), dtype=np.int64)
        out[:, 0] = self.start
        for t in range(codes.shape[1]):
            out[:, t + 1] = self.table[out[:, t], codes[:, t]]
        return out

    # ------------------------------------------------------------------ operations
    def complete(self) -> DFA:
        """This DFA if complete, else a copy with one new rejecting sink state for missing moves."""
        if self.is_complete:
            return self
        n = self.n_states
        table = np.vstack([self.table, np.full((1, self.n_symbols), n)])
        table[table < 0] = n
        labels = None if self.labels is None else self.labels + ("sink",)
        return DFA(alphabet=self.alphabet, table=table, start=self.start,
                   accepting=self.accepting, labels=labels)

    def reachable(self) -> DFA:
        """Copy restricted to the states reachable from the start, renumbered in BFS order."""
        order, seen = [self.start], {self.start: 0}
        for q in order:
            for r in self.table[q]:
                if r >= 0 and int(r) not in seen:
                    seen[int(r)] = len(order)
                    order.append(int(r))
        old = np.array(order)
        remap = np.full(self.n_states + 1, -1, dtype=np.int64)  # index -1 -> -1
        remap[old] = np.arange(len(old))
        table = remap[self.table[old]]
        labels = None if self.labels is None else tuple(self.labels[q] for q in order)
        return DFA(alphabet=self.alphabet, table=table, start=0,
                   accepting={seen[q] for q in self.accepting if q in seen}, labels=labels)

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict:
        """A JSON-ready dict; :meth:`from_json` reads it back."""
        d = {
            "alphabet": list(self.alphabet),
            "states": self.n_states,
            "start": self.start,
            "accepting": sorted(self.accepting),
            "transitions": [[int(x) if x >= 0 else None for x in row] for row in self.table],
        }
        if self.labels is not None:
            d["labels"] = list(self.labels)
        return d

    @classmethod
    def from_json(cls, data: dict | str) -> DFA:
        """Build a DFA from :meth:`to_json`'s format (a dict or a JSON string).

        ``{"alphabet": ["a", "b"], "start": 0, "accepting": [1],
           "transitions": [[1, 0], [1, null]]}``; ``transitions[q][c]`` is the state after symbol
        ``alphabet[c]`` from ``q`` (null: none). ``states`` (a count) and ``labels`` are optional.
        """
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as e:
                raise DFAError(f"the DFA is not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
        if not isinstance(data, dict):
            raise DFAError("a DFA JSON document must be an object with alphabet, start, accepting, transitions")
        missing = [k for k in ("alphabet", "start", "accepting", "transitions") if k not in data]
        if missing:
            raise DFAError(f"the DFA JSON lacks the field(s) {', '.join(missing)}")
        alphabet = data["alphabet"]
        if isinstance(alphabet, str):
            alphabet = list(alphabet)
        if not isinstance(alphabet, list):
            raise DFAError("'alphabet' must be a list of symbols (or a string of one-character symbols)")
        rows = data["transitions"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise DFAError("'transitions' must be a list of rows, one per state, each a list of next states")
        for q, row in enumerate(rows):
            if len(row) != len(alphabet):
                raise DFAError(f"transitions row {q} has {len(row)} entries, the alphabet {len(alphabet)} symbols")
            for x in row:
                if x is not None and (not isinstance(x, int) or isinstance(x, bool)):
                    raise DFAError(f"transitions row {q} holds {x!r}; entries must be state numbers or null")
        if "states" in data and data["states"] != len(rows):
            raise DFAError(f"'states' says {data['states']} but there are {len(rows)} transition rows")
        if not isinstance(data["start"], int) or isinstance(data["start"], bool):
            raise DFAError(f"'start' must be a state number, got {data['start']!r}")
        if not isinstance(data["accepting"], list):
            raise DFAError("'accepting' must be a list of state numbers")
        for q in data["accepting"]:
            if not isinstance(q, int) or isinstance(q, bool):
                raise DFAError(f"'accepting' holds {q!r}; entries must be state numbers")
        if "labels" in data and data["labels"] is not None and not isinstance(data["labels"], list):
            raise DFAError("'labels' must be a list of state names")
        table = [[-1 if x is None else x for x in row] for row in rows]
        return cls(alphabet=tuple(alphabet), table=np.array(table, dtype=np.int64).reshape(len(rows), len(alphabet)),
                   start=data["start"], accepting=frozenset(data["accepting"]), labels=data.get("labels"))

    def save(self, path: str | Path) -> None:
        """Write the DFA as JSON, atomically (statetrack.provenance.write_json)."""
        from statetrack.provenance import write_json

        write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path, max_states: int = DEFAULT_MAX_STATES) -> DFA:
        """Read a DFA JSON file; raises DFAError / LimitError with the file named."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except OSError as e:
            raise DFAError(f"cannot read DFA file {str(p)!r}: {e.strerror}") from None
        except UnicodeDecodeError:
            raise DFAError(f"DFA file {str(p)!r} is not UTF-8 text (a JSON file is expected)") from None
        try:
            dfa = cls.from_json(text)
        except DFAError as e:
            raise type(e)(f"{p}: {e}") from None
        return dfa.check_size(max_states, what=f"DFA in {p}")

    # ------------------------------------------------------------------ construction helpers
    # ``DFA.from_regex(pattern, alphabet)`` and ``dfa.minimize()`` are attached by statetrack.automata
    # (their algorithms live in regex.py and minimize.py, which build on this file, not the reverse).

    def __repr__(self) -> str:
        return (f"DFA(states={self.n_states}, alphabet={_show_alphabet(self.alphabet)}, "
                f"start={self.start}, accepting={sorted(self.accepting)})")


def _show_alphabet(alphabet: Sequence[str], most: int = 12) -> str:
    shown = ", ".join(repr(s) for s in alphabet[:most])
    return "{" + shown + (f", ... ({len(alphabet)} symbols)" if len(alphabet) > most else "") + "}"
