"""Boolean operations on DFAs: the product construction, complement, emptiness.

The product of ``d1`` and ``d2`` runs both at once; its states are the pairs ``(p, q)`` reachable
from ``(start1, start2)``, numbered in BFS order (successors in alphabet order), and a pair is
accepting when ``combine(p accepting, q accepting)`` holds. Both inputs are completed first, so the
result is complete. It is *not* minimized (pass ``minimal=True``, or call ``minimize``).

Example
-------
>>> from statetrack.automata.regex import regex_to_dfa
>>> even_a, ends_b = regex_to_dfa("(b*ab*a)*b*", "ab"), regex_to_dfa(".*b", "ab")
>>> both = product(even_a, ends_b, "and")
>>> both.accepts("aab"), both.accepts("ab"), both.accepts("aa")
(True, False, False)
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from statetrack.automata.dfa import DEFAULT_MAX_STATES, DFA
from statetrack.automata.minimize import minimize, same_alphabet
from statetrack.errors import LimitError, StatetrackError

#: Named combiners: acceptance of the pair from acceptance of its two components.
COMBINERS: dict[str, Callable[[bool, bool], bool]] = {
    "and": lambda a, b: a and b,
    "or": lambda a, b: a or b,
    "xor": lambda a, b: a != b,
    "difference": lambda a, b: a and not b,
}


def product(d1: DFA, d2: DFA, combine: str | Callable[[bool, bool], bool] = "and", *,
            max_states: int = DEFAULT_MAX_STATES, minimal: bool = False) -> DFA:
    """The product DFA of ``d1`` and ``d2`` (same symbol set; ``d1``'s symbol order is kept).

    Args:
        combine: "and" | "or" | "xor" | "difference" (in d1, not in d2), or a function
            (bool, bool) -> bool.
        max_states: LimitError once more reachable pairs than this are found.
        minimal: return the canonical minimal DFA instead of the raw reachable product.
    Returns:
        A complete DFA; unless ``minimal``, state k is the pair labelled ``"(p,q)"`` (using the
        inputs' labels when they have them).
    """
    if isinstance(combine, str):
        if combine not in COMBINERS:
            raise StatetrackError(f"unknown combiner {combine!r}; use one of {', '.join(COMBINERS)}")
        fn = COMBINERS[combine]
    else:
        fn = combine
    d2 = same_alphabet(d1, d2).complete()
    d1 = d1.complete()
    t1, t2 = d1.table.tolist(), d2.table.tolist()
    start = (d1.start, d2.start)
    ids = {start: 0}
    order = [start]
    rows = []
    for p, q in order:  # BFS: order grows while we walk it
        row = []
        for r, s in zip(t1[p], t2[q]):
            k = ids.get((r, s))
            if k is None:
                if len(order) >= max_states:
                    raise LimitError(f"the product automaton has more than {max_states} states, over the "
                                     f"limit", api_hint="raise max_states", cli_hint="raise it with --max-states")
                k = ids[(r, s)] = len(order)
                order.append((r, s))
            row.append(k)
        rows.append(row)
    a1, a2 = d1.accepting_mask, d2.accepting_mask
    accepting = {k for k, (p, q) in enumerate(order) if fn(bool(a1[p]), bool(a2[q]))}
    labels = [f"({d1.label(p)},{d2.label(q)})" for p, q in order]
    out = DFA(alphabet=d1.alphabet, table=np.array(rows, dtype=np.int64), start=0,
              accepting=accepting, labels=labels)
    return minimize(out) if minimal else out


def intersection(d1: DFA, d2: DFA, **kw) -> DFA:
    return product(d1, d2, "and", **kw)


def union(d1: DFA, d2: DFA, **kw) -> DFA:
    return product(d1, d2, "or", **kw)


def difference(d1: DFA, d2: DFA, **kw) -> DFA:
    """Words accepted by ``d1`` and not by ``d2``."""
    return product(d1, d2, "difference", **kw)


def symmetric_difference(d1: DFA, d2: DFA, **kw) -> DFA:
    return product(d1, d2, "xor", **kw)


def complement(dfa: DFA) -> DFA:
    """The DFA of every word ``dfa`` rejects (completed first, so missing moves become accepting)."""
    d = dfa.complete()
    return DFA(alphabet=d.alphabet, table=d.table, start=d.start,
               accepting=set(range(d.n_states)) - d.accepting, labels=d.labels)


def shortest_accepted(dfa: DFA) -> tuple[str, ...] | None:
    """A shortest accepted word (first in alphabet order among the shortest), or None if the
    language is empty."""
    parent: dict[int, tuple[int, int] | None] = {dfa.start: None}
    queue = deque([dfa.start])
    while queue:
        q = queue.popleft()
        if q in dfa.accepting:
            word = []
            while parent[q] is not None:
                q, c = parent[q]
                word.append(dfa.alphabet[c])
            return tuple(reversed(word))
        for c, r in enumerate(dfa.table[q].tolist()):
            if r >= 0 and r not in parent:
                parent[r] = (q, c)
                queue.append(r)
    return None


def is_empty(dfa: DFA) -> bool:
    """True when ``dfa`` accepts no word at all."""
    return shortest_accepted(dfa) is None
