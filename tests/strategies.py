"""Hypothesis strategies and word helpers shared by the test suites.

- :func:`random_dfas` draws DFAs (complete by default) with up to ``max_states`` states over up to
  ``max_symbols`` one-character symbols ``a, b, c, ...``.
- :func:`random_regexes` draws a random regex tree over an alphabet and renders it twice: in
  statetrack's syntax and in Python ``re`` syntax, for comparison with ``re.fullmatch``.
- :func:`all_words` / :func:`accepts_all` enumerate every word up to a length and run a DFA on them
  in one vectorized pass per length.

Example::

    from hypothesis import given
    from tests.strategies import random_dfas

    @given(random_dfas(max_states=12, max_symbols=4))
    def test_something(dfa): ...
"""
from __future__ import annotations

import itertools
import re
import string

import numpy as np
from hypothesis import strategies as st

from statetrack.automata.dfa import DFA
from statetrack.automata.regex import METACHARACTERS


# --------------------------------------------------------------------------- DFAs
@st.composite
def random_dfas(draw, max_states: int = 12, max_symbols: int = 4, *, min_states: int = 1,
                min_symbols: int = 1, partial: bool = False) -> DFA:
    """A random DFA over symbols ``a, b, ...``; with ``partial=True`` some moves may be missing (-1).

    The start state is random too, so unreachable states occur (as they do in user JSON)."""
    n = draw(st.integers(min_states, max_states))
    m = draw(st.integers(min_symbols, max_symbols))
    low = -1 if partial else 0
    flat = draw(st.lists(st.integers(low, n - 1), min_size=n * m, max_size=n * m))
    start = draw(st.integers(0, n - 1))
    accepting = draw(st.sets(st.integers(0, n - 1), max_size=n))
    return DFA(alphabet=tuple(string.ascii_lowercase[:m]), table=np.array(flat, dtype=np.int64).reshape(n, m),
               start=start, accepting=accepting)


# --------------------------------------------------------------------------- words
def codes_of_length(m: int, length: int) -> np.ndarray:
    """Every word of one length as symbol indices (m**length, length), lexicographic order."""
    if length == 0:
        return np.zeros((1, 0), dtype=np.int64)
    return np.indices((m,) * length).reshape(length, -1).T.astype(np.int64)


def all_words(alphabet, max_len: int):
    """Every word (a tuple of symbols) of length <= max_len, by length, then lexicographically."""
    for length in range(max_len + 1):
        yield from itertools.product(alphabet, repeat=length)


def accepts_all(dfa: DFA, max_len: int) -> np.ndarray:
    """Acceptance of every word up to max_len, concatenated in :func:`all_words` order (bool)."""
    out = []
    for length in range(max_len + 1):
        q = dfa.run_batch(codes_of_length(dfa.n_symbols, length))
        out.append((q >= 0) & dfa.accepting_mask[np.maximum(q, 0)])
    return np.concatenate(out)


def re_accepts_all(python_pattern: str, alphabet, max_len: int) -> np.ndarray:
    """``re.fullmatch`` of the pattern on every word up to max_len, in :func:`all_words` order."""
    rx = re.compile(python_pattern)
    return np.fromiter((rx.fullmatch("".join(w)) is not None for w in all_words(alphabet, max_len)), dtype=bool)


# --------------------------------------------------------------------------- regexes
def _ours_symbol(s: str) -> str:
    return "\\" + s if s in METACHARACTERS else s


def _ours_class_item(s: str) -> str:
    return "\\" + s if s in "]\\[-^" else s


@st.composite
def _regex_tree(draw, alphabet: str, depth: int):
    """A tree of tuples: ("sym", s) ("class", negate, items) ("dot",) ("eps",) ("cat", a, b)
    ("alt", a, b) ("rep", body, lo, hi) — hi None: unbounded."""
    leaves = ["sym", "sym", "class", "dot", "eps"]
    kind = draw(st.sampled_from(leaves + (["cat", "cat", "alt", "alt", "rep", "rep"] if depth > 0 else [])))
    if kind == "sym":
        return ("sym", draw(st.sampled_from(alphabet)))
    if kind == "class":
        items = draw(st.lists(st.sampled_from(alphabet), min_size=1, max_size=len(alphabet), unique=True))
        return ("class", draw(st.booleans()), tuple(items))
    if kind in ("dot", "eps"):
        return (kind,)
    if kind in ("cat", "alt"):
        a = draw(_regex_tree(alphabet, depth - 1))
        b = draw(_regex_tree(alphabet, depth - 1))
        if kind == "alt" and draw(st.integers(0, 5)) == 0:
            b = ("eps",)  # an empty alternative, rendered as nothing: "a|"
            return ("alt", a, ("empty_side",))
        return (kind, a, b)
    body = draw(_regex_tree(alphabet, depth - 1))
    counts = [(0, None), (1, None), (0, 1), (0, 0), (1, 1), (2, 2), (2, None), (0, 2), (1, 3), (3, None)]
    # Python's re backtracks for minutes on counted repeats of a body that matches "", and on
    # stars of such bodies nested three deep: keep those out of the oracle's way
    if _nullable(body):
        counts = [(0, 1), (1, 1)] if _has_rep(body) else [(0, None), (0, 1), (1, 1)]
    lo, hi = draw(st.sampled_from(counts))
    return ("rep", body, lo, hi)


def _has_rep(tree) -> bool:
    return tree[0] == "rep" or (tree[0] in ("cat", "alt") and any(_has_rep(t) for t in tree[1:]))


def _nullable(tree) -> bool:
    """Whether the tree matches the empty word."""
    kind = tree[0]
    if kind in ("eps", "empty_side"):
        return True
    if kind == "cat":
        return all(_nullable(t) for t in tree[1:])
    if kind == "alt":
        return any(_nullable(t) for t in tree[1:])
    if kind == "rep":
        return tree[2] == 0 or _nullable(tree[1])
    return False


def _render(tree, python: bool) -> tuple[str, bool]:
    """(text, atomic): atomic means a quantifier may follow it directly."""
    group = "(?:{})" if python else "({})"
    kind = tree[0]
    if kind == "sym":
        return (re.escape(tree[1]) if python else _ours_symbol(tree[1])), True
    if kind == "class":
        _, negate, items = tree
        body = "".join(re.escape(s) if python else _ours_class_item(s) for s in items)
        return "[" + ("^" if negate else "") + body + "]", True
    if kind == "dot":
        return ".", True
    if kind == "eps":
        return ("(?:)" if python else "()"), True
    if kind == "empty_side":
        return "", False
    if kind == "cat":
        parts = []
        for sub in tree[1:]:
            text, _ = _render(sub, python)
            parts.append(group.format(text) if sub[0] == "alt" else text)
        return "".join(parts), False
    if kind == "alt":
        return "|".join(_render(sub, python)[0] for sub in tree[1:]), False
    _, body, lo, hi = tree
    text, atomic = _render(body, python)
    if not atomic or body[0] == "rep":
        text = group.format(text)
    q = {(0, None): "*", (1, None): "+", (0, 1): "?"}.get((lo, hi))
    if q is None:
        q = f"{{{lo},}}" if hi is None else f"{{{lo}}}" if lo == hi else (f"{{,{hi}}}" if lo == 0 else f"{{{lo},{hi}}}")
    return text + q, False


#: Alphabets for random regexes: plain letters, metacharacters as symbols, a blank.
REGEX_ALPHABETS = ("ab", "abc", "a*(", "x .", "0-]")


@st.composite
def random_regexes(draw, alphabets=REGEX_ALPHABETS, max_depth: int = 4):
    """(ours, python, alphabet): one random regex in statetrack syntax and in Python ``re`` syntax."""
    alphabet = draw(st.sampled_from(alphabets))
    tree = draw(_regex_tree(alphabet, max_depth))
    ours, _ = _render(tree, python=False)
    python, _ = _render(tree, python=True)
    return ours, python, alphabet
