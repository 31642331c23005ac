"""Sparse numbering of the tuples of layer codes a multi-layer model can reach (a prefix trie).

A model with layers 0..L-1 decodes a code c_i in 0..C_i-1 per layer. Layer i's route and the
final state map are functions of the tuple of lower codes, but only the tuples that the model can
reach from its initial state ever occur (for a Krohn–Rhodes cascade: 76 to 40k of them where the
product of widths is 10^6 to 10^12). :class:`CodeIndex` numbers just those.

*Prefixes.* A prefix of length i is a tuple (c_0, ..., c_{i-1}); the stored prefixes of length i
are numbered 0..P_i-1 (P_0 = 1: the empty prefix, id 0). Prefix q of length i+1 extends a prefix p
of length i by a code c; it is stored as the key ``p * C_i + c`` in ``keys[i]``, a strictly
increasing int64 array of length P_{i+1}, and q is the key's position there. Looking a child up is
one ``searchsorted`` per layer; a key that is absent gives id -1 (an unreachable tuple), and so do
all its extensions.

Consumers: ``Layer.route`` of layer i > 0 is int64 (n_letters, P_i), indexed by (letter, prefix id
of the lower codes before the letter); layer 0's route is (n_letters,). ``LRNNWeights.state_map``
is int64 (P_L,), indexed by the id of the whole tuple. :meth:`CodeIndex.full` is the dense case
(every tuple, row-major ids), which single-layer models use.

Example
-------
>>> import numpy as np
>>> idx = CodeIndex(widths=(2, 3), keys=(np.array([0, 1]), np.array([1, 3, 5])))
>>> idx.counts, idx.locate([np.array([0, 1, 1]), np.array([1, 0, 2])]).tolist()
((1, 2, 3), [0, 1, 2])
>>> idx.locate([np.array([0]), np.array([0])]).tolist()       # (0, 0) is not stored
[-1]
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from statetrack.errors import UnreachableConfigurationError


@dataclass(frozen=True)
class CodeIndex:
    """The stored (reachable) tuples of layer codes, as a prefix trie of sorted keys.

    Attributes:
        widths: (L,) codes per layer C_i.
        keys: per layer i, int64 (P_{i+1},) strictly increasing keys ``p * C_i + c`` (see module).
    """

    widths: tuple[int, ...]
    keys: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        widths = tuple(int(w) for w in self.widths)
        keys = tuple(np.asarray(k, dtype=np.int64).reshape(-1) for k in self.keys)
        if len(keys) != len(widths) or any(w < 1 for w in widths):
            raise ValueError(f"a code index needs one key array per layer and widths >= 1, got {len(keys)} "
                             f"arrays for widths {list(widths)}")
        count = 1
        for i, (w, k) in enumerate(zip(widths, keys)):
            if len(k) and (k[0] < 0 or k[-1] >= count * w or np.any(np.diff(k) <= 0)):
                raise ValueError(f"code index level {i}: keys must increase strictly within 0..{count * w - 1}")
            count = len(k)
        object.__setattr__(self, "widths", widths)
        object.__setattr__(self, "keys", keys)

    @classmethod
    def full(cls, widths: Sequence[int]) -> CodeIndex:
        """Every tuple of codes, numbered row-major (the dense layout: id = ravel_multi_index)."""
        keys, count = [], 1
        for w in widths:
            keys.append(np.arange(count * int(w), dtype=np.int64))
            count *= int(w)
        return cls(tuple(int(w) for w in widths), tuple(keys))

    @classmethod
    def from_children(cls, children: Sequence[np.ndarray]) -> CodeIndex:
        """From a trie given as child tables ``children[i]`` int64 (P_i, C_i) (id of prefix p extended
        by c, -1 if absent) whose ids are already in key order (e.g. a Cascade's ``children``)."""
        keys = []
        for i, ch in enumerate(children):
            p, c = np.nonzero(ch >= 0)
            ids = ch[p, c]
            if not np.array_equal(ids, np.arange(len(ids))):
                raise ValueError(f"trie level {i}: child ids are not numbered in (prefix, code) order")
            keys.append(p * ch.shape[1] + c)
        return cls(tuple(int(ch.shape[1]) for ch in children), tuple(keys))

    # ------------------------------------------------------------------ facts
    @property
    def n_layers(self) -> int:
        return len(self.widths)

    @property
    def counts(self) -> tuple[int, ...]:
        """(P_0, ..., P_L): stored prefixes of each length."""
        return (1, *(len(k) for k in self.keys))

    @property
    def stored_entries(self) -> int:
        """Keys held (one per stored prefix of length >= 1)."""
        return int(sum(len(k) for k in self.keys))

    @property
    def product_of_widths(self) -> int:
        return math.prod(self.widths)

    def is_full(self) -> bool:
        return self.counts[-1] == self.product_of_widths

    # ------------------------------------------------------------------ lookups
    def child(self, i: int, prefix: np.ndarray, code: np.ndarray) -> np.ndarray:
        """Ids (N,) of prefixes ``prefix`` (length i) extended by ``code``; -1 where absent or where
        the prefix is already -1 (or the code is outside 0..C_i-1)."""
        prefix = np.asarray(prefix, dtype=np.int64)
        code = np.asarray(code, dtype=np.int64)
        keys = self.keys[i]
        want = prefix * self.widths[i] + code
        pos = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
        ok = (prefix >= 0) & (code >= 0) & (code < self.widths[i]) & (len(keys) > 0)
        ok &= keys[pos] == want if len(keys) else False
        return np.where(ok, pos, -1)

    def locate(self, codes: Sequence[np.ndarray], start: np.ndarray | None = None, first: int = 0) -> np.ndarray:
        """Id of the tuple ``codes[0], codes[1], ...`` (each (N,) or any equal shape), -1 if not stored.

        ``start``/``first``: continue from prefix ids ``start`` of length ``first``."""
        shape = np.shape(codes[0]) if len(codes) else np.shape(start) if start is not None else (1,)
        p = np.zeros(shape, dtype=np.int64) if start is None else np.asarray(start, dtype=np.int64)
        for j, c in enumerate(codes):
            p = self.child(first + j, p, c)
        return p

    def require(self, ids: np.ndarray, codes: Sequence[np.ndarray], what: str) -> np.ndarray:
        """``ids`` unchanged if all are stored, else UnreachableConfigurationError naming the first
        unstored tuple of ``codes`` (each with the shape of ids)."""
        ids = np.asarray(ids)
        bad = np.flatnonzero(ids.reshape(-1) < 0)
        if len(bad):
            k = int(bad[0])
            tup = tuple(int(np.asarray(c).reshape(-1)[k]) for c in codes)
            raise UnreachableConfigurationError(
                f"{what}: layer codes {tup} are not a reachable configuration of these weights "
                f"({len(bad)} of {ids.size} rows; corrupt weights or a decoding error)")
        return ids

    def prefixes(self, i: int) -> np.ndarray:
        """The stored prefixes of length i as codes: int64 (P_i, i), row = prefix id."""
        vals = np.zeros((1, 0), dtype=np.int64)
        for j in range(i):
            p, c = np.divmod(self.keys[j], self.widths[j])
            vals = np.concatenate([vals[p], c[:, None]], axis=1)
        return vals
