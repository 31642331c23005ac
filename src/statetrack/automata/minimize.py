"""DFA minimization and language equivalence.

:func:`minimize` starts with Moore's partition refinement, vectorized: each round re-labels every
state by (its class, the classes of its successors) with one ``np.unique``, until the number of
classes stops growing. Moore can need n rounds (the chain ``a{n}``), so after
:data:`MOORE_ROUNDS` rounds Hopcroft's O(m n log n) algorithm takes over from the current partition.
:func:`minimize_reference` is the slow, obviously-correct twin (pairwise table filling); tests
require all three to return identical DFAs.

Both return the canonical minimal DFA: complete, every state reachable, states numbered in BFS
order from the start (start = 0, successors visited in alphabet order). Two DFAs over the same
alphabet accept the same language exactly when their canonical minimal DFAs have equal tables
and accepting sets.

Example
-------
>>> from statetrack.automata.dfa import DFA
>>> d = DFA(alphabet="ab", table=[[1, 2], [1, 2], [1, 2]], start=0, accepting={1})  # ends in a
>>> minimize(d).n_states
2
"""
from __future__ import annotations

from collections import deque

import numpy as np

from statetrack.automata.dfa import DFA
from statetrack.errors import AlphabetError


def _quotient(d: DFA, cls: np.ndarray) -> DFA:
    """The DFA on the classes ``cls`` (n,) of a complete, reachable DFA ``d``, BFS-numbered."""
    k = int(cls.max()) + 1
    table = np.empty((k, d.n_symbols), dtype=np.int64)
    table[cls] = cls[d.table]  # all members of a class agree on successor classes
    labels = None
    if d.labels is not None:
        members: list[list[str]] = [[] for _ in range(k)]
        for q, c in enumerate(cls):
            members[c].append(d.labels[q])
        labels = ["|".join(m) for m in members]
    q = DFA(alphabet=d.alphabet, table=table, start=int(cls[d.start]),
            accepting={int(cls[q]) for q in d.accepting}, labels=labels)
    return q.reachable()


#: Moore rounds before handing over to Hopcroft (Moore needs up to n rounds on chains like a{n}).
MOORE_ROUNDS = 32


def nerode_classes(table: np.ndarray, accepting: np.ndarray, *, moore_rounds: int = MOORE_ROUNDS) -> np.ndarray:
    """Myhill–Nerode classes of the states of a complete DFA.

    Vectorized Moore refinement for up to ``moore_rounds`` rounds (a handful suffice for most
    automata); if the partition is still changing, Hopcroft's algorithm finishes from there.

    Args:
        table: int array (n, m), every entry a state.
        accepting: bool array (n,).
    Returns:
        int64 array (n,): class ids 0..k-1; two states share a class iff no word tells them apart.
    """
    table = np.asarray(table, dtype=np.int64)
    _, cls = np.unique(np.asarray(accepting, dtype=np.int64), return_inverse=True)
    cls = cls.reshape(-1)
    for _ in range(moore_rounds):
        new = _moore_round(table, cls)
        if new.max() == cls.max():
            return cls
        cls = new
    return hopcroft_classes(table, cls)


def _moore_round(table: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """One refinement: states keep a class iff they agree on (class, class of each successor)."""
    n, m = table.shape
    if n <= 8192:  # one np.unique over whole signature rows (bytes) is fastest while n is small
        sig = np.empty((n, m + 1), dtype=np.int64)
        sig[:, 0] = cls
        sig[:, 1:] = cls[table]
        _, ids = np.unique(sig.view(np.dtype((np.void, 8 * (m + 1)))).ravel(), return_inverse=True)
        return ids.reshape(-1)
    k = int(cls.max()) + 1
    ids = cls
    for c in range(m):  # fold the signature one symbol at a time, staying in int64
        _, ids = np.unique(ids * k + cls[table[:, c]], return_inverse=True)
        ids = ids.reshape(-1)
    return ids


def hopcroft_classes(table: np.ndarray, initial: np.ndarray) -> np.ndarray:
    """Hopcroft's partition refinement, O(m n log n), from a partition ``initial`` (n,) that
    separates accepting from rejecting states; every initial block starts as a splitter."""
    n, m = table.shape
    preds = []  # per symbol, the states p with table[p, c] == q are order[starts[q]:starts[q + 1]]
    for c in range(m):
        col = table[:, c]
        order = np.argsort(col, kind="stable")
        preds.append((order.tolist(), np.searchsorted(col[order], np.arange(n + 1)).tolist()))
    block_of = np.asarray(initial, dtype=np.int64).tolist()
    blocks: list[set[int]] = [set() for _ in range(max(block_of) + 1)]
    for q, b in enumerate(block_of):
        blocks[b].add(q)
    work = set(range(len(blocks)))
    while work:
        splitter = list(blocks[work.pop()])
        for order, starts in preds:
            hit: dict[int, list[int]] = {}  # block -> its states with a c-move into the splitter
            for q in splitter:
                for p in order[starts[q]:starts[q + 1]]:
                    hit.setdefault(block_of[p], []).append(p)
            for b, members in hit.items():
                if len(members) == len(blocks[b]):
                    continue
                moved = set(members)
                blocks[b] -= moved
                new = len(blocks)
                blocks.append(moved)
                for p in moved:
                    block_of[p] = new
                # Hopcroft's trick: if b is not waiting, splitting by one half implies the other
                work.add(new if b in work or len(moved) <= len(blocks[b]) else b)
    return np.array(block_of, dtype=np.int64)


def minimize(dfa: DFA) -> DFA:
    """The canonical minimal complete DFA of ``dfa``'s language (see the module docstring).

    Labels, if any, survive: a merged state's label joins its members' labels with ``|``.
    """
    d = dfa.complete().reachable()
    return _quotient(d, nerode_classes(d.table, d.accepting_mask))


def minimize_reference(dfa: DFA) -> DFA:
    """Slow twin of :func:`minimize`: mark distinguishable pairs until nothing changes."""
    d = dfa.complete().reachable()
    n, m = d.n_states, d.n_symbols
    acc = d.accepting_mask
    apart = [[bool(acc[p] != acc[q]) for q in range(n)] for p in range(n)]
    changed = True
    while changed:
        changed = False
        for p in range(n):
            for q in range(n):
                if not apart[p][q] and any(apart[d.table[p, c]][d.table[q, c]] for c in range(m)):
                    apart[p][q] = True
                    changed = True
    cls = np.full(n, -1, dtype=np.int64)
    k = 0
    for p in range(n):
        if cls[p] < 0:
            for q in range(n):
                if not apart[p][q]:
                    cls[q] = k
            k += 1
    return _quotient(d, cls)


def is_minimal(dfa: DFA) -> bool:
    """True when ``dfa`` is complete, all states are reachable and no two states are equivalent."""
    return dfa.is_complete and dfa.reachable().n_states == dfa.n_states == minimize(dfa).n_states


def same_alphabet(d1: DFA, d2: DFA) -> DFA:
    """``d2`` with its columns in ``d1``'s symbol order; AlphabetError if the symbol sets differ."""
    if d1.alphabet == d2.alphabet:
        return d2
    only1 = [s for s in d1.alphabet if s not in d2.alphabet]
    only2 = [s for s in d2.alphabet if s not in d1.alphabet]
    if only1 or only2:
        parts = []
        if only1:
            parts.append(f"only the first has {', '.join(map(repr, only1[:5]))}")
        if only2:
            parts.append(f"only the second has {', '.join(map(repr, only2[:5]))}")
        raise AlphabetError(f"the two DFAs have different alphabets: {'; '.join(parts)}")
    cols = [d2.alphabet.index(s) for s in d1.alphabet]
    return DFA(alphabet=d1.alphabet, table=d2.table[:, cols], start=d2.start,
               accepting=d2.accepting, labels=d2.labels)


def find_difference(d1: DFA, d2: DFA) -> tuple[str, ...] | None:
    """A shortest word (tuple of symbols) accepted by exactly one of the DFAs, or None.

    Breadth-first search over pairs of states; among words of the shortest length, the first in
    alphabet order (of ``d1``'s alphabet) is returned. The alphabets must hold the same symbols.
    """
    d2 = same_alphabet(d1, d2).complete()
    d1 = d1.complete()
    a1, a2 = d1.accepting_mask, d2.accepting_mask
    start = (d1.start, d2.start)
    parent: dict[tuple[int, int], tuple[tuple[int, int], int] | None] = {start: None}
    queue = deque([start])
    while queue:
        p, q = pair = queue.popleft()
        if a1[p] != a2[q]:
            word: list[str] = []
            while parent[pair] is not None:
                pair, c = parent[pair]
                word.append(d1.alphabet[c])
            return tuple(reversed(word))
        for c in range(d1.n_symbols):
            nxt = (int(d1.table[p, c]), int(d2.table[q, c]))
            if nxt not in parent:
                parent[nxt] = (pair, c)
                queue.append(nxt)
    return None


def equivalent(d1: DFA, d2: DFA) -> bool:
    """True when the two DFAs accept the same language (same symbol set required)."""
    return find_difference(d1, d2) is None
