"""Regular expression -> minimal complete DFA.

Stages, each a small function:

1. :func:`parse` reads the pattern into a tree (:class:`Chars`, :class:`Cat`, :class:`Alt`,
   :class:`Rep`, :class:`Eps`, :class:`Empty`) whose leaves are sets of *symbol indices*, so
   every later stage is independent of how symbols are spelled. All syntax checks happen here.
2. :func:`to_automata_lib` writes the tree as an automata-lib regex in which symbol ``i`` is the
   private-use character ``U+E000 + i``. Only ``( ) | * + ? {m,n} [...]`` appear, so automata-lib's
   extra operators (``&`` intersection, ``^`` shuffle, ``\\d``/``\\s`` shorthands, blanks) can never be
   triggered by a user's pattern, and its mis-handled corner cases (``x{0}`` accepts ``x``; empty
   alternatives are rejected) are rewritten away by the tree's normal form.
3. automata-lib's ``NFA.from_regex`` builds the Thompson-style NFA.
4. :func:`_determinize` runs the subset construction with a state budget (automata-lib's
   ``DFA.from_nfa`` has none, so a pattern like ``(a|b)*a(a|b){30}`` would never return).
5. :func:`statetrack.automata.minimize.minimize` gives the minimal complete DFA, numbered in BFS
   order from the start (start = 0, symbols in alphabet order), which is canonical.

Syntax (patterns always match the whole word; there are no anchors):

============  ==============================================================================
``x``         a symbol of the alphabet. With multi-character symbols the longest symbol that
              starts here is read (write ``a()b`` to force ``a`` then ``b``).
``\\x``        ``x`` taken literally (for symbols that are metacharacters: ``| * + ? ( ) [ ] { }
              . \\``); escaping a letter or digit is an error, since ``\\d``, ``\\w``... would
              mean something else in Python's ``re``.
``.``         any one symbol of the alphabet.
``[abc]``     any one of the listed symbols; ``[a-c]`` a range of one-character symbols by code
              point (characters outside the alphabet are ignored); ``[^ab]`` any symbol of the
              alphabet except those; ``-`` is literal first or last, ``^`` literal after the first.
``R|S``       either; an empty side is the empty word (``a|`` = ``a`` or nothing).
``RS``        concatenation.
``R*``  ``R+``  ``R?``   zero or more, one or more, zero or one.
``R{m}``  ``R{m,}``  ``R{,n}``  ``R{m,n}``   between m and n repetitions.
``(R)``       grouping; ``()`` is the empty word, and so is the empty pattern.
============  ==============================================================================

Two quantifiers in a row (``a**``, ``a*?``) are an error, as in Python's ``re`` for ``**``, because
Python gives ``*?`` and ``*+`` other meanings.

Example
-------
>>> d = regex_to_dfa("(a|b)*abb", "ab")
>>> d.n_states, d.accepts("babb"), d.accepts("abab")
(4, True, False)
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from statetrack.automata.dfa import DEFAULT_MAX_STATES, DFA, _show_alphabet
from statetrack.errors import AlphabetError, LimitError, RegexError

#: Characters with a meaning in patterns; everything else is a literal symbol.
METACHARACTERS = frozenset("|*+?()[]{}.\\")

#: Determinization may visit at most this many times ``max_states`` subsets before giving up.
SUBSET_FACTOR = 16
#: The NFA (counted from the tree before it is built) may have at most this many times ``max_states``.
NFA_FACTOR = 16

_PRIVATE_BLOCKS = ((0xE000, 0xF8FF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD))


# --------------------------------------------------------------------------- the tree
@dataclass(frozen=True)
class Empty:
    """The empty language (no word at all), e.g. ``[^ab]`` over ``ab``."""


@dataclass(frozen=True)
class Eps:
    """The language holding only the empty word."""


@dataclass(frozen=True)
class Chars:
    """One symbol out of a non-empty set of symbol indices."""

    symbols: frozenset[int]


@dataclass(frozen=True)
class Cat:
    parts: tuple


@dataclass(frozen=True)
class Alt:
    options: tuple


@dataclass(frozen=True)
class Rep:
    """``body`` repeated between ``lo`` and ``hi`` times (``hi`` None: unbounded)."""

    body: object
    lo: int
    hi: int | None


Node = Empty | Eps | Chars | Cat | Alt | Rep
EMPTY, EPS = Empty(), Eps()


def cat(parts: Iterable[Node]) -> Node:
    """Concatenation in normal form: flattened, no Eps, Empty absorbs."""
    out: list[Node] = []
    for p in parts:
        if isinstance(p, Empty):
            return EMPTY
        if isinstance(p, Cat):
            out.extend(p.parts)
        elif not isinstance(p, Eps):
            out.append(p)
    return EPS if not out else out[0] if len(out) == 1 else Cat(tuple(out))


def alt(options: Iterable[Node]) -> Node:
    """Union in normal form: flattened, no Empty, one-symbol options merged into one Chars."""
    out: list[Node] = []
    chars: set[int] = set()
    for o in options:
        for x in (o.options if isinstance(o, Alt) else (o,)):
            if isinstance(x, Chars):
                chars |= x.symbols
            elif not isinstance(x, Empty) and x not in out:
                out.append(x)
    if chars:
        out.insert(0, Chars(frozenset(chars)))
    return EMPTY if not out else out[0] if len(out) == 1 else Alt(tuple(out))


def rep(body: Node, lo: int, hi: int | None) -> Node:
    """Repetition in normal form (x{0} and x{0,0} become Eps, x{1} becomes x)."""
    if hi == 0 or isinstance(body, Eps):
        return EPS
    if isinstance(body, Empty):
        return EPS if lo == 0 else EMPTY
    if lo == hi == 1:
        return body
    return Rep(body, lo, hi)


# --------------------------------------------------------------------------- alphabet
def normalize_alphabet(alphabet: str | Iterable[str]) -> tuple[str, ...]:
    """The alphabet as a tuple of symbols: a string is one symbol per character."""
    if isinstance(alphabet, str):
        symbols = tuple(alphabet)
    else:
        try:
            symbols = tuple(alphabet)
        except TypeError:
            raise AlphabetError(f"the alphabet must be a string or a list of symbols, "
                                f"got {type(alphabet).__name__}") from None
    if not symbols:
        raise AlphabetError("the alphabet is empty")
    for s in symbols:
        if not isinstance(s, str) or not s:
            raise AlphabetError(f"alphabet symbols must be non-empty strings, got {s!r}")
    seen: set[str] = set()
    for s in symbols:
        if s in seen:
            raise AlphabetError(f"symbol {s!r} appears twice in the alphabet")
        seen.add(s)
    capacity = sum(hi - lo + 1 for lo, hi in _PRIVATE_BLOCKS)
    if len(symbols) > capacity:
        raise AlphabetError(f"the alphabet has {len(symbols)} symbols; at most {capacity} are supported")
    return symbols


def _private_char(i: int) -> str:
    for lo, hi in _PRIVATE_BLOCKS:
        if i <= hi - lo:
            return chr(lo + i)
        i -= hi - lo + 1
    raise AssertionError("unreachable: normalize_alphabet bounds the alphabet")  # pragma: no cover


# --------------------------------------------------------------------------- parser
class _Parser:
    """Recursive descent over the grammar alt := cat ('|' cat)*, cat := post*, post := atom quant?"""

    def __init__(self, pattern: str, alphabet: tuple[str, ...]):
        self.p = pattern
        self.i = 0
        self.alphabet = alphabet
        self.index = {s: k for k, s in enumerate(alphabet)}
        # longest first, so that the longest symbol starting at a position wins
        self.by_length = sorted({len(s) for s in alphabet}, reverse=True)

    def error(self, msg: str) -> RegexError:
        return RegexError(f"bad regex {self.p!r}: {msg}")

    def peek(self) -> str | None:
        return self.p[self.i] if self.i < len(self.p) else None

    def parse(self) -> Node:
        node = self.alternation()
        if self.i < len(self.p):  # only a stray closer can stop the top level early
            c = self.p[self.i]
            if c == ")":
                raise self.error(f"unbalanced parenthesis: ')' at position {self.i} has no matching '('")
            raise self.error(f"unmatched {c!r} at position {self.i} (escape it as '\\{c}' for the symbol)")
        return node

    def alternation(self) -> Node:
        options = [self.concatenation()]
        while self.peek() == "|":
            self.i += 1
            options.append(self.concatenation())
        return alt(options)

    def concatenation(self) -> Node:
        parts: list[Node] = []
        while (c := self.peek()) is not None and c not in "|)]}":
            if c in "*+?{":
                raise self.error(f"nothing to repeat: {c!r} at position {self.i} follows no expression")
            atom = self.atom()
            parts.append(self.quantified(atom))
        return cat(parts)

    def quantified(self, atom: Node) -> Node:
        c = self.peek()
        if c is None or c not in "*+?{":
            return atom
        start = self.i
        if c == "{":
            lo, hi = self.braces()
        else:
            self.i += 1
            lo, hi = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
        nxt = self.peek()
        if nxt is not None and nxt in "*+?{":
            raise self.error(f"multiple repeat: {nxt!r} at position {self.i} follows the quantifier "
                             f"{self.p[start:self.i]!r}; add parentheses, e.g. (a*)*")
        return rep(atom, lo, hi)

    def braces(self) -> tuple[int, int | None]:
        start = self.i
        end = self.p.find("}", start)
        if end < 0:
            raise self.error(f"bad repetition at position {start}: '{{' is never closed")
        body = self.p[start + 1:end]
        lo_s, comma, hi_s = body.partition(",")
        ok = (lo_s.isdigit() or lo_s == "") and (hi_s.isdigit() or hi_s == "") and lo_s.isascii() \
            and hi_s.isascii() and (lo_s or hi_s) and (comma or lo_s)
        if not ok:
            raise self.error(f"bad repetition {self.p[start:end + 1]!r} at position {start}: "
                             f"use {{m}}, {{m,}}, {{,n}} or {{m,n}} with whole numbers")
        lo = int(lo_s) if lo_s else 0
        hi = lo if not comma else (int(hi_s) if hi_s else None)
        if hi is not None and lo > hi:
            raise self.error(f"bad repetition {self.p[start:end + 1]!r} at position {start}: "
                             f"the minimum {lo} exceeds the maximum {hi}")
        self.i = end + 1
        return lo, hi

    def atom(self) -> Node:
        c = self.p[self.i]
        if c == "(":
            open_at = self.i
            self.i += 1
            node = self.alternation()
            if self.peek() != ")":
                if self.peek() is None:
                    raise self.error(f"unbalanced parenthesis: '(' at position {open_at} is never closed")
                raise self.error(f"unmatched {self.peek()!r} at position {self.i}")
            self.i += 1
            return node
        if c == "[":
            return self.char_class()
        if c == ".":
            self.i += 1
            return Chars(frozenset(range(len(self.alphabet))))
        return Chars(frozenset([self.literal()]))

    def literal(self) -> int:
        """Read one symbol (after an optional backslash) and return its index."""
        at = self.i
        if self.p[at] == "\\":
            self.escape_check(at)
            self.i += 1
        elif self.p[at] in METACHARACTERS:  # pragma: no cover - callers dispatch metacharacters
            raise self.error(f"unexpected {self.p[at]!r} at position {at}")
        for n in self.by_length:
            s = self.p[self.i:self.i + n]
            if len(s) == n and s in self.index:
                self.i += n
                return self.index[s]
        run = self.p[self.i]
        for ch in self.p[self.i + 1:]:
            if ch in METACHARACTERS or len(run) >= 12:
                break
            run += ch
        what = f"symbol {run[0]!r}" if max(self.by_length) == 1 else f"no symbol starts at {run!r}"
        hint = "; patterns always match the whole word, there are no anchors" if run[0] in "^$" else ""
        raise AlphabetError(f"{what} (position {self.i} of the pattern {self.p!r}) is not in the "
                            f"alphabet {_show_alphabet(self.alphabet)}{hint}")

    def escape_check(self, at: int) -> None:
        if at + 1 >= len(self.p):
            raise self.error("the pattern ends with '\\' (nothing to escape)")
        nxt = self.p[at + 1]
        if nxt.isalnum():
            raise self.error(f"unsupported escape '\\{nxt}' at position {at}: only punctuation can be "
                             f"escaped (classes like \\d or \\w are not supported; list the symbols in [...])")

    def char_class(self) -> Node:
        open_at = self.i
        self.i += 1
        negate = self.peek() == "^"
        if negate:
            self.i += 1
        members: set[int] = set()
        first = self.i
        while True:
            c = self.peek()
            if c is None:
                raise self.error(f"unterminated character class '[' at position {open_at}")
            if c == "]":
                break
            if c == "[":
                raise self.error(f"'[' at position {self.i} inside a character class (escape it as '\\[')")
            text, at = self.class_item()
            if self.peek() == "-" and self.p[self.i + 1:self.i + 2] not in ("", "]"):
                self.i += 1
                hi_text, _ = self.class_item(single=True)
                if len(text) != 1:
                    raise self.error(f"bad character range at position {at}: {text!r} is not one character")
                if text > hi_text:
                    raise self.error(f"bad character range {text}-{hi_text} at position {at}")
                members |= {k for k, s in enumerate(self.alphabet) if len(s) == 1 and text <= s <= hi_text}
            else:
                members.add(self.class_symbol(text, at))
        if self.i == first:
            raise self.error(f"empty character class at position {open_at}")
        self.i += 1
        if negate:
            members = set(range(len(self.alphabet))) - members
        return Chars(frozenset(members)) if members else EMPTY

    def class_item(self, single: bool = False) -> tuple[str, int]:
        """One member of [...] (optionally escaped): the longest symbol starting here that holds no
        ']' after its first character, else one character. Returns (text, position)."""
        at = self.i
        if self.p[at] == "\\":
            self.escape_check(at)
            self.i += 1
        if not single:
            for n in self.by_length:
                s = self.p[self.i:self.i + n]
                if n > 1 and len(s) == n and s in self.index and "]" not in s[1:]:
                    self.i += n
                    return s, at
        self.i += 1
        return self.p[self.i - 1], at

    def class_symbol(self, s: str, at: int) -> int:
        if s not in self.index:
            raise AlphabetError(f"symbol {s!r} (position {at} of the pattern {self.p!r}) is not in the "
                                f"alphabet {_show_alphabet(self.alphabet)}")
        return self.index[s]


def parse(pattern: str, alphabet: str | Iterable[str]) -> Node:
    """The pattern's tree in normal form; RegexError / AlphabetError name the problem."""
    symbols = normalize_alphabet(alphabet)
    if not isinstance(pattern, str):
        raise RegexError(f"the pattern must be a string, got {type(pattern).__name__}")
    try:
        return _Parser(pattern, symbols).parse()
    except RecursionError:
        raise RegexError(f"the pattern nests parentheses too deeply ({len(pattern)} characters)") from None


# --------------------------------------------------------------------------- tree -> automata-lib
def nfa_size(node: Node) -> int:
    """An upper bound on the states automata-lib's builder makes for the tree (for the budget)."""
    if isinstance(node, (Empty, Eps, Chars)):
        return 2
    if isinstance(node, Cat):
        return sum(nfa_size(p) for p in node.parts)
    if isinstance(node, Alt):
        return sum(nfa_size(o) for o in node.options) + 1
    copies = max(node.lo, node.hi or 0, 1)
    return nfa_size(node.body) * copies + 1


def to_automata_lib(node: Node) -> str:
    """automata-lib regex text for a tree with no Empty inside; symbol i is _private_char(i)."""
    if isinstance(node, Eps):
        return "()"
    if isinstance(node, Chars):
        chars = "".join(_private_char(i) for i in sorted(node.symbols))
        return chars if len(chars) == 1 else f"[{chars}]"
    if isinstance(node, Cat):
        return "".join(f"({to_automata_lib(p)})" if isinstance(p, Alt) else to_automata_lib(p)
                       for p in node.parts)
    if isinstance(node, Alt):
        return "(" + "|".join(to_automata_lib(o) for o in node.options) + ")"
    if isinstance(node, Rep):
        body = f"({to_automata_lib(node.body)})"
        lo, hi = node.lo, node.hi
        suffix = {(0, None): "*", (1, None): "+", (0, 1): "?"}.get((lo, hi))
        if suffix is None:
            suffix = f"{{{lo},}}" if hi is None else f"{{{lo}}}" if lo == hi else f"{{{lo},{hi}}}"
        return body + suffix
    raise TypeError(f"cannot render {node!r}")  # pragma: no cover - Empty is handled by the caller


# --------------------------------------------------------------------------- NFA -> DFA
def _determinize(nfa, n_symbols: int, budget: int) -> tuple[np.ndarray, int, set[int]]:
    """Subset construction over automata-lib's NFA, states numbered in BFS order.

    Returns (table (n, n_symbols) int64 with -1 for no move, start 0, accepting set).
    """
    trans = nfa.transitions
    closures: dict = {}

    def closure(q):
        got = closures.get(q)
        if got is None:
            seen, stack = {q}, [q]
            while stack:
                for r in trans.get(stack.pop(), {}).get("", ()):
                    if r not in seen:
                        seen.add(r)
                        stack.append(r)
            got = closures[q] = frozenset(seen)
        return got

    code = {_private_char(i): i for i in range(n_symbols)}
    step: dict = {}  # NFA state -> [(symbol index, closure of targets)]
    for q, moves in trans.items():
        out = []
        for sym, targets in moves.items():
            if sym and targets:
                reach = frozenset().union(*(closure(t) for t in targets))
                out.append((code[sym], reach))
        step[q] = out

    finals = frozenset(nfa.final_states)
    start = closure(nfa.initial_state)
    ids = {start: 0}
    order = [start]
    rows: list[list[int]] = []
    for subset in order:  # grows while we iterate: BFS
        acc: dict[int, set] = {}
        for q in subset:
            for c, reach in step.get(q, ()):
                acc.setdefault(c, set()).update(reach)
        row = [-1] * n_symbols
        for c in sorted(acc):
            target = frozenset(acc[c])
            k = ids.get(target)
            if k is None:
                if len(order) >= budget:
                    raise LimitError(f"determinizing the pattern needs more than {budget} states; "
                                     f"its minimal DFA is likely over the limit too",
                                     api_hint="raise max_states", cli_hint="raise it with --max-states")
                k = ids[target] = len(order)
                order.append(target)
            row[c] = k
        rows.append(row)
    accepting = {k for k, s in enumerate(order) if not s.isdisjoint(finals)}
    return np.array(rows, dtype=np.int64).reshape(len(rows), n_symbols), 0, accepting


def regex_to_dfa(pattern: str, alphabet: str | Iterable[str], *,
                 max_states: int = DEFAULT_MAX_STATES) -> DFA:
    """The minimal complete DFA of ``pattern`` over ``alphabet`` (syntax: module docstring).

    States are numbered in BFS order from the start state 0, symbols in alphabet order, so equal
    languages give identical tables. Raises RegexError (malformed pattern), AlphabetError (empty
    alphabet, literal outside it) or LimitError (over ``max_states`` states).
    """
    symbols = normalize_alphabet(alphabet)
    tree = parse(pattern, symbols)
    if isinstance(tree, Empty):
        return DFA(alphabet=symbols, table=np.zeros((1, len(symbols)), dtype=np.int64), start=0,
                   accepting=frozenset())
    size = nfa_size(tree)
    if size > NFA_FACTOR * max_states:
        raise LimitError(f"the pattern expands to about {size} automaton states before minimization, "
                         f"over the limit of {NFA_FACTOR * max_states}",
                         api_hint="lower its repetition counts or raise max_states",
                         cli_hint="lower its repetition counts or raise --max-states")
    from automata.base.exceptions import AutomatonException, RegexException
    from automata.fa.nfa import NFA

    try:
        text = to_automata_lib(tree)
        nfa = NFA.from_regex(text, input_symbols=frozenset(_private_char(i) for i in range(len(symbols))))
    except RecursionError:
        raise RegexError(f"the pattern nests too deeply ({len(pattern)} characters)") from None
    except (AutomatonException, RegexException) as e:  # our rendering is always valid: report, never leak a traceback
        raise RegexError(f"internal: automata-lib rejected the translated pattern {pattern!r}: {e}") from None
    table, start, accepting = _determinize(nfa, len(symbols), SUBSET_FACTOR * max_states)
    from statetrack.automata.minimize import minimize

    dfa = minimize(DFA(alphabet=symbols, table=table, start=start, accepting=accepting))
    return dfa.check_size(max_states, what=f"minimal DFA of the pattern {pattern!r}")
