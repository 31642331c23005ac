"""Named automata for the Krohn–Rhodes tests: groups and resets mixed, and pre-state dependence."""
from __future__ import annotations

import numpy as np

from statetrack.automata.dfa import DFA


def mod5_reset() -> DFA:
    """Count a's mod 5; r resets the count. Accept count 0."""
    return DFA(alphabet="ar", table=[[(q + 1) % 5, 0] for q in range(5)], start=0, accepting={0})


def flip_flop() -> DFA:
    """s sets, r resets, n keeps the bit. Accept when set."""
    return DFA(alphabet="srn", table=[[1, 0, 0], [1, 0, 1]], start=0, accepting={1})


def flip_flop_with_parity() -> DFA:
    """A flip-flop f (s sets, r resets) and above it a parity bit p that r toggles when f was set
    *before* the r: state 2p + f. Accept odd p. The parity reads the pre-reset flip-flop."""
    table = np.zeros((4, 3), dtype=np.int64)
    for p in (0, 1):
        for f in (0, 1):
            q = 2 * p + f
            table[q] = [2 * p + 1, 2 * (p ^ f), q]            # s, r, t (t: nothing)
    return DFA(alphabet="srt", table=table, start=0, accepting={2, 3})


def shift_register() -> DFA:
    """``(a|b)*a(a|b){3}``: the 4th letter from the end is a (16 minimal states)."""
    return DFA.from_regex("(a|b)*a(a|b){3}", "ab")


def parity_with_reset() -> DFA:
    """Even number of a's since the last r (a: parity, r: reset)."""
    return DFA(alphabet="abr", table=[[1, 0, 0], [0, 1, 0]], start=0, accepting={0})


def parity_and_set_reset() -> DFA:
    """Parity of a's (a group) next to a flip-flop (s/r resets); accept when they agree: 2p + f."""
    table = np.zeros((4, 3), dtype=np.int64)
    for p in (0, 1):
        for f in (0, 1):
            table[2 * p + f] = [2 * (1 - p) + f, 2 * p + 1, 2 * p]    # a, s, r
    return DFA(alphabet="asr", table=table, start=0, accepting={0, 3})


def counter_then_parity() -> DFA:
    """``(a|b)*`` words whose count of a's mod 3 is 0 after the last b, with b resetting and
    toggling a parity of how often the counter was nonzero at a reset: a group above a reset of a
    group. State 3p + c."""
    table = np.zeros((6, 2), dtype=np.int64)
    for p in (0, 1):
        for c in range(3):
            table[3 * p + c] = [3 * p + (c + 1) % 3, 3 * (p ^ (c != 0))]
    return DFA(alphabet="ab", table=table, start=0, accepting={0})


NAMED = {
    "mod5-reset": mod5_reset,
    "flip-flop": flip_flop,
    "flip-flop+parity": flip_flop_with_parity,
    "shift-register": shift_register,
    "parity-reset": parity_with_reset,
    "parity+flip-flop": parity_and_set_reset,
    "counter-reset-parity": counter_then_parity,
}
#: automata where an upper level reads a lower level's state from before a reset
PRE_STATE = ("flip-flop+parity", "shift-register", "counter-reset-parity")


def all_codes(m: int, length: int) -> np.ndarray:
    """Every word of one length as letter indices (m**length, length)."""
    if length == 0:
        return np.zeros((1, 0), dtype=np.int64)
    return np.indices((m,) * length).reshape(length, -1).T.astype(np.int64)


def sample_minimal_dfas(count: int = 200, max_states: int = 6, seed: int = 0) -> list[DFA]:
    """``count`` random minimal DFAs: n uniform in 2..max_states, 2 or 3 letters, random table and
    accepting set (each state with probability 1/2), start 0; drawn until minimization keeps all n
    states. Seeded, so the sample is the same every time."""
    rng = np.random.default_rng(seed)
    out: list[DFA] = []
    while len(out) < count:
        n, m = int(rng.integers(2, max_states + 1)), int(rng.integers(2, 4))
        acc = set(np.flatnonzero(rng.random(n) < 0.5).tolist())
        dfa = DFA(alphabet="abc"[:m], table=rng.integers(0, n, size=(n, m)), start=0, accepting=acc)
        minimal = dfa.minimize()
        if minimal.n_states == n:
            out.append(minimal)
    return out
