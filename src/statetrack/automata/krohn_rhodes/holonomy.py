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
chain jumps over hold 0 (nothing reads them; a reset to 0 keeps the coordinates canonical, so
the cascade reaches far fewer states than with the identity there).

**Dependency functions.** Reading letter s, walk the levels top-down with two sets: P, the old
chain's set whose tile level i would choose, and Q, the new chain's. Invariant: ``P·s ⊆ Q``.
At level i, when Q has depth i+1:

- ``P·s = Q``: then P is at depth i+1 too and s is one-to-one on P (P is at depth i+1 or
  deeper, a letter's image is never shallower, a shrinking one strictly deeper). s maps the
  tiles of P one-to-one onto the tiles of Q: when P ≡ Q through the word back, otherwise (closed
  grading only) through the preimage closure of the family (:mod:`.skeleton`). In the
  representatives' frames this is a *permutation* of tile indices (an element of the holonomy
  group when P ≡ Q);
- ``P·s ⊊ Q``: a *constant* map onto the first tile of Q that contains P·s.

Then Q moves to the new tile, P to its old one (each only when at this depth), which keeps the
invariant. When Q skips depth i+1 the level's action is the identity. At the bottom P is a
singleton {q} and Q = {q·s}. Each level's action depends only on s and the levels above it
(through P and Q), so this is a cascade of permutation–reset automata (P1 Thm 4).

**Explicit cascade over reachable states, levels grouped.** :meth:`Holonomy.cascade` explores the
coordinates reachable from the start breadth first (budget ``max_configurations``) and then packs
consecutive depths into one *product level* wherever that stays a permutation–reset level: for
every letter and every reachable state of the levels above, the joint map on the reachable tuples
of the packed depths must be injective (it extends to a permutation) or constant (a reset). The
packed level's states are those reachable tuples. Dependency tables are stored for reachable
prefixes only (:class:`~.cascade.Cascade`). SgpDec keeps one level per depth. Its depth (tiles and
letter images between classes both lower it) can exceed n - 1 for random automata; the default
closed grading keeps it at most n - 1 (:mod:`.skeleton`), and the packing then saves a level
here and there.

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
            "grading": sk.grading,
            "states": sk.n,
            "images": sk.n_images,
            "image_set": len(sk.sets),           # with the singletons (and any preimage sets)
            "classes": len(sk.reps),
            "levels": self.n_levels,
            "widths": list(self.widths),
            "sgpdec_widths": [sum(len(sk.tiles[r]) for r in self.level_reps(i)) for i in range(self.n_levels)]
            if sk.n_levels else [1],
            "dense_table_entries": table_entries(self.widths, len(self.alphabet)),
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
        sk, new = self.skeleton, [0] * self.n_levels             # skipped depths: reset to 0
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
            perm = [pos.get(sk.act(t, letter), -1) for t in sk.real_tiles(p)]
            if sk.depth[p] != i + 1 or sorted(perm) != list(range(len(q_tiles))):
                raise RuntimeError(f"holonomy invariant broken: letter {self.alphabet[letter]!r} carries "
                                   f"{show(sk.sets[p])} onto {show(sk.sets[q])} but not its tiles onto theirs")
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
    def configurations(self, budget: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Coordinates reachable from the start, breadth first.

        Returns (configs int64 (R, L) with row 0 the initial coordinates, successors int64
        (R, n_letters) row indices, DFA state (R,) in the DFA's numbering). LimitError above ``budget``.
        """
        m, L = len(self.alphabet), self.n_levels
        start = np.array([self.initial], dtype=np.int64)
        index = {start[0].tobytes(): 0}
        blocks, states, succ = [start], [np.array([self.dfa_state(self.initial)])], []
        frontier, count = start, 1
        while len(frontier):
            stepped = [self.step_batch(frontier, a) for a in range(m)]       # (N, L), (N,) per letter
            cand = np.stack([c for c, _ in stepped], axis=1).reshape(-1, L)   # discovery order: row, letter
            cand_q = np.stack([q for _, q in stepped], axis=1).reshape(-1)
            ids = np.empty(len(cand), dtype=np.int64)
            fresh = []
            for k, row in enumerate(cand):
                key = row.tobytes()
                j = index.get(key)
                if j is None:
                    if count >= budget:
                        raise CascadeLimits(max_configurations=budget).exceeded(
                            "max_configurations", count + 1, "reachable cascade states",
                            " (breadth-first exploration stopped there)")
                    j = index[key] = count
                    count += 1
                    fresh.append(k)
                ids[k] = j
            succ.append(ids.reshape(-1, m))
            frontier = cand[fresh]
            blocks.append(frontier)
            states.append(np.asarray(self.states, dtype=np.int64)[cand_q[fresh]])
        return np.concatenate(blocks), np.concatenate(succ), np.concatenate(states)

    def step_batch(self, coords: np.ndarray, letter: int) -> tuple[np.ndarray, np.ndarray]:
        """Vectorized :meth:`step` for one letter: coords int64 (N, L) -> (new coords (N, L), the
        skeleton state (N,) they encode). Actions are looked up once per distinct (old, new) set pair."""
        sk = self.skeleton
        N = len(coords)
        new = np.zeros_like(coords)
        p = np.zeros(N, dtype=np.int64)                      # set ids; 0 is the whole state set X
        q = np.zeros(N, dtype=np.int64)
        depth = sk.depth
        for i in range(sk.n_levels):
            rows = np.flatnonzero(depth[q] == i + 1)
            if len(rows):
                pairs, inv = np.unique(p[rows] * len(sk.sets) + q[rows], return_inverse=True)
                images = np.array([self.action(letter, int(pq // len(sk.sets)), int(pq % len(sk.sets)), i).image
                                   for pq in pairs], dtype=np.int64)
                new[rows, i] = images[inv.reshape(-1), coords[rows, i]]
                q[rows] = self._tile_ids(q[rows], new[rows, i])
            rows = np.flatnonzero(depth[p] == i + 1)
            if len(rows):
                p[rows] = self._tile_ids(p[rows], coords[rows, i])
        return new, self._lowest_state()[q]

    def _tile_ids(self, sets: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Set id of tile j[k] of set sets[k] (real_tiles, tabulated on first use)."""
        table = self.__dict__.get("_tiles")
        if table is None:
            table = self.__dict__["_tiles"] = np.full((len(self.skeleton.sets), max(self.widths)), -1, dtype=np.int64)
        need = np.unique(sets[table[sets, 0] < 0])
        for a in need.tolist():
            t = self.skeleton.real_tiles(a)
            table[a, :len(t)] = t
        return table[sets, j]

    def _lowest_state(self) -> np.ndarray:
        """(number of sets,) the lowest skeleton state of each set (a singleton's only state)."""
        got = self.__dict__.get("_lowest")
        if got is None:
            got = self.__dict__["_lowest"] = np.array([(s & -s).bit_length() - 1 for s in self.skeleton.sets])
        return got

    def cascade(self, limits: CascadeLimits | None = None) -> Cascade:
        """The explicit cascade over reachable states, consecutive depths packed into product levels.

        Raises LimitError (which limit, by how much, what to raise) beyond ``limits``.
        """
        limits = limits or CascadeLimits()
        configs, succ, states = self.configurations(limits.max_configurations)
        groups = group_levels(configs, succ, limits.max_width)
        coords = np.stack([_row_ids(configs[:, a:b]) for a, b in groups], axis=1)     # (R, L')
        widths = tuple(int(coords[:, k].max()) + 1 for k in range(len(groups)))
        info = self.summary()
        info.update({"depths": info["levels"], "depth_widths": info["widths"], "depth_groups": [[a + 1, b] for a, b in groups], "levels": len(widths),
                     "widths": list(widths)})
        limits.check(widths, len(self.alphabet))
        cascade = from_configurations(self.alphabet, coords, succ, states, name=NAME, info=info)
        limits.check(widths, len(self.alphabet), cascade.table_entries)
        return cascade


def _row_ids(rows: np.ndarray) -> np.ndarray:
    """Number the distinct rows of rows (R, k) of non-negative ints 0, 1, ... in lexicographic
    order -> (R,). Column by column: rank(prefix) * (max + 1) + column, re-ranked (no overflow)."""
    ids = np.zeros(len(rows), dtype=np.int64)
    for col in np.asarray(rows, dtype=np.int64).T:
        ids = np.unique(ids * (int(col.max(initial=0)) + 1) + col, return_inverse=True)[1].reshape(-1)
    return ids.astype(np.int64)


def _packable(keys: np.ndarray, x: np.ndarray, succ: np.ndarray) -> bool:
    """True when, for every letter and key (prefix id), the map x -> x[successor] on the reachable
    x of that key is a function that is injective or constant. keys, x: (R,); succ (R, m)."""
    w = int(x.max()) + 1
    for a in range(succ.shape[1]):
        y = x[succ[:, a]]
        kx = np.unique(keys * w + x)
        if len(np.unique((keys * w + x) * w + y)) != len(kx):
            raise RuntimeError("holonomy invariant broken: a level's next state depends on lower levels")
        ky = np.unique(keys * w + y)
        n_x = np.bincount(kx // w, minlength=int(keys.max()) + 1)
        n_y = np.bincount(ky // w, minlength=int(keys.max()) + 1)
        if np.any((n_y != n_x) & (n_y != 1) & (n_x > 0)):
            return False
    return True


def group_levels(configs: np.ndarray, succ: np.ndarray, max_width: int) -> list[tuple[int, int]]:
    """Consecutive holonomy levels packed into the fewest product levels [a, b).

    A block is allowed when it is a permutation–reset level (:func:`_packable`) no wider than
    ``max_width`` reachable tuples (single depths always are); the fewest blocks come from a shortest
    path over the depths 0..L (blocks wider than ``max_width`` end the search from a). Ties keep
    the blocks that start highest. configs (R, L), succ (R, m) -> list of (a, b).
    """
    L = configs.shape[1]
    best = [0] + [L + 1] * L                        # fewest blocks covering depths 0..b-1
    cut = [0] * (L + 1)
    keys = np.zeros(len(configs), dtype=np.int64)
    for a in range(L):
        x = configs[:, a]
        for b in range(a + 1, L + 1):
            if b > a + 1:
                x = _row_ids(np.stack([x, configs[:, b - 1]], axis=1))       # ids of columns a..b-1
                if int(x.max()) + 1 > max_width:
                    break
                if best[a] + 1 >= best[b] or not _packable(keys, x, succ):
                    continue
            if best[a] + 1 < best[b]:
                best[b], cut[b] = best[a] + 1, a
        keys = _row_ids(np.stack([keys, configs[:, a]], axis=1))            # ids of columns 0..a
    out, b = [], L
    while b > 0:
        out.append((cut[b], b))
        b = cut[b]
    return out[::-1]


def _level_action(width: int, xs: np.ndarray, ys: np.ndarray) -> Action:
    """A permutation–reset action taking each xs[k] to ys[k] (xs distinct): constant when all ys agree
    and there are several xs, else a permutation extending the injection (fixed points kept)."""
    if len(xs) > 1 and np.all(ys == ys[0]):
        return Action.constant(width, int(ys[0]))
    if len(set(ys.tolist())) != len(ys):
        raise RuntimeError("holonomy invariant broken: a product level's map is neither injective nor constant")
    image = [-1] * width
    for x, y in zip(xs.tolist(), ys.tolist()):
        image[x] = y
    free = sorted(set(range(width)) - set(ys.tolist()))
    for x in range(width):                                   # keep the other states fixed where possible
        if image[x] < 0 and x in free:
            image[x] = x
            free.remove(x)
    rest = iter(free)
    return Action(tuple(y if y >= 0 else next(rest) for y in image))


def from_configurations(alphabet, coords: np.ndarray, succ: np.ndarray, states: np.ndarray,
                        name: str, info: dict) -> Cascade:
    """The sparse :class:`Cascade` of a reachable state graph whose levels are permutation–reset.

    coords int64 (R, L): level states of each reachable cascade state, row 0 initial; succ (R, m):
    successor rows; states (R,): DFA state of each. Tables and trie cover these rows only.
    """
    R, L = coords.shape
    m = len(alphabet)
    widths = tuple(int(coords[:, i].max()) + 1 for i in range(L))
    prefix = np.zeros(R, dtype=np.int64)                    # prefix id of each row, length i
    n_prefix = 1
    tables, children, actions = [], [], []
    for i in range(L):
        acts: dict[Action, int] = {Action.identity(widths[i]): 0}
        table = np.zeros((m, n_prefix), dtype=np.int64)
        w = widths[i]
        for a in range(m):
            # the partial map x -> y of each prefix, as a row (width,) with -1 where x is unreached;
            # actions are built once per distinct partial map, not once per prefix
            partial = np.full((n_prefix, w), -1, dtype=np.int64)
            partial[prefix, coords[:, i]] = coords[succ[:, a], i]
            if np.count_nonzero(partial >= 0) != len(np.unique(prefix * w + coords[:, i])) or \
                    np.any(partial[prefix, coords[:, i]] != coords[succ[:, a], i]):
                raise RuntimeError("holonomy invariant broken: a level's next state depends on lower levels")
            kinds = _row_ids(partial + 1)
            first = np.unique(kinds, return_index=True)[1]
            ids = np.empty(len(first), dtype=np.int64)
            for k, row in enumerate(partial[first]):
                xs = np.flatnonzero(row >= 0)
                ids[k] = acts.setdefault(_level_action(w, xs, row[xs]), len(acts))
            table[a] = ids[kinds]
        nxt = _row_ids(np.stack([prefix, coords[:, i]], axis=1))
        child = np.full((n_prefix, widths[i]), -1, dtype=np.int64)
        child[prefix, coords[:, i]] = nxt
        tables.append(table)
        children.append(child)
        actions.append(tuple(sorted(acts, key=acts.get)))
        prefix, n_prefix = nxt, int(nxt.max()) + 1
    state_map = np.full(n_prefix, -1, dtype=np.int64)
    state_map[prefix] = states
    return Cascade(alphabet=tuple(alphabet), widths=widths, actions=tuple(actions), tables=tuple(tables),
                   children=tuple(children), initial=tuple(int(x) for x in coords[0]), state_map=state_map,
                   name=name, info=info)


def holonomy(dfa: DFA, max_images: int = DEFAULT_MAX_IMAGES, grading: str = "closed") -> Holonomy:
    """The holonomy decomposition of a DFA (completed first; only states reachable from the start
    take part). ``grading``: "closed" (default) or "subduction" (SgpDec's levels), see
    :func:`~.skeleton.build_skeleton`. LimitError above 64 reachable states or ``max_images`` sets."""
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
    sk = build_skeleton(table, max_images, grading)
    if sk.n_levels == 0:
        widths: tuple[int, ...] = (1,)
    else:
        widths = tuple(max(len(sk.tiles[r]) for r in sk.reps_at_depth(i + 1)) for i in range(sk.n_levels))
    return Holonomy(alphabet=dfa.alphabet, skeleton=sk, states=tuple(order), start=0, widths=widths)
