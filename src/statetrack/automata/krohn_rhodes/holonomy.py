"""Holonomy coordinates and dependency functions (Eilenberg's holonomy decomposition).

Algorithm: the holonomy decomposition of a finite transformation semigroup (Zeiger 1967; Eilenberg,
*Automata, Languages, and Machines*, vol. B, 1976), in the computational form of A. Egri-Nagy and
C. L. Nehaniv, *Computational holonomy decomposition of transformation semigroups*,
arXiv:1508.06345 (2015), which GAP's SgpDec package implements. See :mod:`.skeleton` for images,
tiles, equivalence and depth.

**Coordinates.** Level i (i = 0..L-1) belongs to depth i+1. A DFA state q is encoded by a *tile
chain* ``X = A_0 ⊃ A_1 ⊃ ... ⊃ {q}``, each set a tile of the one before. If ``A_k`` has depth
i+1, level i holds the index j of the tile ``A_{k+1} = (tile j of rep(A_k)) · IN(A_k)``: the
choice is recorded in the frame of the class representative, not of ``A_k`` itself. Depths the
chain jumps over hold an arbitrary value that nothing reads.

**Dependency functions.** Reading letter s, walk the levels top-down with two sets: P, the old
chain's set whose tile level i would choose, and Q, the new chain's. Invariant: ``P·s ⊆ Q``.
At level i, when Q has depth i+1:

- ``P·s = Q`` (then P ≡ Q and both are at depth i+1): s maps the tiles of P one-to-one onto the
  tiles of Q; in the representative's frame this is a *permutation* of rep(Q)'s tiles, an
  element of its holonomy group;
- ``P·s ⊊ Q``: a *constant* map onto the first tile of Q that contains P·s.

Then Q moves to the new tile, P to its old one (each only when at this depth), which keeps the
invariant. When Q skips depth i+1 the level's action is the identity. At the bottom P is a
singleton {q} and Q = {q·s}. Each level's action depends only on s and the levels above it
(through P and Q), so this is a cascade of permutation–reset automata (P1 Thm 4).

**Level width.** SgpDec gives level i the disjoint union of the tile sets of all representatives
at depth i+1. Only one representative is *active* at a time (the one the lower levels point to),
and the action on the others is the identity, so we let them share states: level i has
``max |tiles(rep)|`` states, a permutation of the active slot's tiles fixes the indices beyond it.
Still a permutation or a constant on the whole level; the cascade is the same up to this
relabelling and is usually far narrower (a 4-bit shift register: widths 2,2,2,2, not 2,4,8,16).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from statetrack.automata.dfa import DFA
from statetrack.automata.krohn_rhodes.cascade import Action, Cascade, CascadeLimits, table_entries
from statetrack.automata.krohn_rhodes.skeleton import DEFAULT_MAX_IMAGES, Skeleton, bits, build_skeleton, show

NAME = "holonomy (Eilenberg 1976; Egri-Nagy & Nehaniv, arXiv:1508.06345)"


@dataclass(frozen=True, eq=False)
class Holonomy:
    """The holonomy decomposition of a complete DFA's reachable part, with dependency functions
    computed on demand (so it scales to DFAs whose explicit cascade would be astronomically large).

    Attributes:
        alphabet: the DFA's letters.
        skeleton: images, tiles and depths of the reachable part's transition semigroup.
        states: (n,) skeleton state -> the DFA's state number.
        start: the start state in skeleton numbering.
        widths: (L,) states per level (at least one level; a one-state DFA gets one level of width 1).
    """

    alphabet: tuple[str, ...]
    skeleton: Skeleton
    states: tuple[int, ...]
    start: int
    widths: tuple[int, ...]
    _cache: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ facts
    @property
    def n_levels(self) -> int:
        return len(self.widths)

    def level_reps(self, i: int) -> list[int]:
        """Set ids of the representatives whose tiles level i encodes."""
        return self.skeleton.reps_at_depth(i + 1)

    def summary(self) -> dict:
        sk = self.skeleton
        return {
            "decomposition": NAME,
            "states": sk.n,
            "images": sk.n_orbit,
            "image_set": len(sk.sets),
            "classes": len(sk.reps),
            "levels": self.n_levels,
            "widths": list(self.widths),
            "sgpdec_widths": [sum(len(sk.tiles[r]) for r in self.level_reps(i)) for i in range(self.n_levels)]
            if sk.n_levels else [1],
            "table_entries": table_entries(self.widths, len(self.alphabet)),
        }

    # ------------------------------------------------------------------ coordinates
    def lift(self, q: int) -> tuple[int, ...]:
        """Coordinates of a tile chain down to skeleton state q (the first tile containing q each time)."""
        sk, coords, a = self.skeleton, [0] * self.n_levels, 0
        for i in range(sk.n_levels):
            if sk.depth[a] == i + 1:
                j = next(j for j, t in enumerate(sk.real_tiles(a)) if sk.sets[t] >> q & 1)
                coords[i] = j
                a = sk.real_tiles(a)[j]
        return tuple(coords)

    @property
    def initial(self) -> tuple[int, ...]:
        return self.lift(self.start)

    def decode(self, coords) -> int:
        """Skeleton state encoded by coordinates, -1 if they are not a valid tile chain."""
        sk, a = self.skeleton, 0
        for i in range(sk.n_levels):
            if sk.depth[a] == i + 1:
                tiles = sk.real_tiles(a)
                if not 0 <= coords[i] < len(tiles):
                    return -1
                a = tiles[coords[i]]
        return bits(sk.sets[a])[0]

    def step(self, coords, letter: int) -> tuple[int, ...]:
        """Coordinates after one letter (the cascade's dependency functions, evaluated on demand)."""
        sk, new = self.skeleton, list(coords)
        p = q = 0
        for i in range(sk.n_levels):
            if sk.depth[q] == i + 1:
                new[i] = self.action(letter, p, q, i)(coords[i])
                q = sk.real_tiles(q)[new[i]]
            if sk.depth[p] == i + 1:
                p = sk.real_tiles(p)[coords[i]]
        return tuple(new)

    def action(self, letter: int, p: int, q: int, i: int) -> Action:
        """The action on level i for old set p and new set q (set ids, q at depth i+1, p·letter ⊆ q)."""
        key = (letter, p, q)
        got = self._cache.get(key)
        if got is not None:
            return got
        sk, width = self.skeleton, self.widths[i]
        ps = sk.act(p, letter)
        q_tiles = sk.real_tiles(q)
        if ps == q:                                                  # permutation of the tiles
            pos = {t: j for j, t in enumerate(q_tiles)}
            perm = [pos[sk.act(t, letter)] for t in sk.real_tiles(p)]
            got = Action(tuple(perm) + tuple(range(len(perm), width)))
        else:                                                        # reset into a tile holding P·s
            inside = [j for j, t in enumerate(q_tiles) if sk.sets[ps] & ~sk.sets[t] == 0]
            if not inside or sk.sets[ps] & ~sk.sets[q]:
                raise RuntimeError(f"holonomy invariant broken: {show(sk.sets[ps])} is not inside a tile "
                                   f"of {show(sk.sets[q])}")
            got = Action.constant(width, inside[0])
        self._cache[key] = got
        return got

    def run(self, codes) -> tuple[int, ...]:
        """Coordinates after a word of letter indices."""
        coords = self.initial
        for a in codes:
            coords = self.step(coords, int(a))
        return coords

    def dfa_state(self, coords) -> int:
        """The DFA state (original numbering) that coordinates encode, -1 if none."""
        q = self.decode(coords)
        return self.states[q] if q >= 0 else -1

    # ------------------------------------------------------------------ holonomy groups
    def holonomy_groups(self) -> list[list[dict]]:
        """Per level, per representative: its tiles and the order of its holonomy group (the
        permutations of its tiles induced by words that map it onto itself)."""
        from sympy.combinatorics import Permutation, PermutationGroup

        sk, out = self.skeleton, []
        for i in range(sk.n_levels):
            row = []
            for r in self.level_reps(i):
                c, k = sk.cls[r], len(sk.tiles[r])
                gens = set()
                for a in np.flatnonzero(sk.cls[:sk.n_orbit] == c).tolist():
                    for letter in range(sk.n_letters):
                        b = sk.act(a, letter)
                        if sk.cls[b] == c:
                            img = self.action(letter, a, b, i).image[:k]
                            if img != tuple(range(k)):
                                gens.add(img)
                order = PermutationGroup([Permutation(list(g)) for g in gens]).order() if gens else 1
                row.append({"set": show(sk.sets[r]), "tiles": k, "group_order": int(order)})
            out.append(row)
        return out

    # ------------------------------------------------------------------ explicit cascade
    def cascade(self, limits: CascadeLimits | None = None) -> Cascade:
        """The explicit cascade: dependency tables over every tuple of lower-level states.

        Raises LimitError when the tables would exceed ``limits``.
        """
        limits = limits or CascadeLimits()
        m, widths, sk = len(self.alphabet), self.widths, self.skeleton
        limits.check(widths, m)
        L = self.n_levels
        actions: list[dict[Action, int]] = [{Action.identity(w): 0} for w in widths]
        tables = [np.zeros((m, *widths[:i]), dtype=np.int64) for i in range(L)]
        state_map = None
        for letter in range(m):
            pairs, pair_of = [(0, 0)], np.zeros(1, dtype=np.int64)     # (P, Q) per prefix; P = -1: invalid
            for i in range(sk.n_levels):
                act = np.zeros(len(pairs), dtype=np.int64)
                nxt = np.zeros((len(pairs), widths[i]), dtype=np.int64)
                index: dict[tuple[int, int], int] = {}
                new_pairs: list[tuple[int, int]] = []
                for u, (p, q) in enumerate(pairs):
                    a = Action.identity(widths[i])
                    if p >= 0 and sk.depth[q] == i + 1:
                        a = self.action(letter, p, q, i)
                        act[u] = actions[i].setdefault(a, len(actions[i]))
                    for x in range(widths[i]):
                        p2, q2 = p, q
                        if p >= 0 and sk.depth[p] == i + 1:
                            p_tiles = sk.real_tiles(p)
                            p2 = p_tiles[x] if x < len(p_tiles) else -1
                        if p2 >= 0 and sk.depth[q] == i + 1:
                            q2 = sk.real_tiles(q)[a(x)]
                        key = (p2, q2) if p2 >= 0 else (-1, -1)
                        nxt[u, x] = index.setdefault(key, len(new_pairs))
                        if nxt[u, x] == len(new_pairs):
                            new_pairs.append(key)
                tables[i][letter] = act[pair_of].reshape(widths[:i])
                pair_of = nxt[pair_of].reshape(-1)
                pairs = new_pairs
            if state_map is None:
                if any(p >= 0 and sk.sets[p] & (sk.sets[p] - 1) for p, _ in pairs):
                    raise RuntimeError("holonomy invariant broken: a tile chain does not end in a singleton")
                final = np.array([self.states[bits(sk.sets[p])[0]] if p >= 0 else -1 for p, _ in pairs],
                                 dtype=np.int64)
                state_map = final[pair_of].reshape(widths)
        if sk.n_levels == 0:                                         # one reachable state
            state_map = np.array([self.states[0]], dtype=np.int64)
        return Cascade(alphabet=self.alphabet, widths=widths,
                       actions=tuple(tuple(sorted(acts, key=acts.get)) for acts in actions),
                       tables=tuple(tables), initial=self.initial, state_map=state_map,
                       name=NAME, info=self.summary())


def holonomy(dfa: DFA, max_images: int = DEFAULT_MAX_IMAGES) -> Holonomy:
    """The holonomy decomposition of a DFA (completed first; only states reachable from the start
    take part). LimitError above 64 reachable states or ``max_images`` images."""
    dfa = dfa.complete()
    order, seen = [dfa.start], {dfa.start: 0}
    for q in order:
        for r in dfa.table[q].tolist():
            if r not in seen:
                seen[r] = len(order)
                order.append(r)
    remap = np.full(dfa.n_states, -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    table = remap[dfa.table[order]]
    sk = build_skeleton(table, max_images)
    if sk.n_levels == 0:
        widths: tuple[int, ...] = (1,)
    else:
        widths = tuple(max(len(sk.tiles[r]) for r in sk.reps_at_depth(i + 1)) for i in range(sk.n_levels))
    return Holonomy(alphabet=dfa.alphabet, skeleton=sk, states=tuple(order), start=0, widths=widths)
