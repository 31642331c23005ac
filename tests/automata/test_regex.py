"""Regex -> minimal complete DFA: syntax, errors, limits, agreement with Python's re."""
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from statetrack.automata.dfa import DFA
from statetrack.automata.minimize import minimize, minimize_reference
from statetrack.automata.regex import parse, regex_to_dfa, to_automata_lib
from statetrack.errors import AlphabetError, LimitError, RegexError, StatetrackError
from tests.strategies import accepts_all, all_words, random_regexes, re_accepts_all

# (pattern, alphabet, accepted words, rejected words)
CASES = [
    pytest.param("(a|b)*abb", "ab", ["abb", "babb", "aabb"], ["", "ab", "abab"], id="ends-abb"),
    pytest.param("", "ab", [""], ["a", "b"], id="empty-pattern"),
    pytest.param("()", "ab", [""], ["a"], id="empty-group"),
    pytest.param("a|", "ab", ["", "a"], ["b", "aa"], id="empty-alternative"),
    pytest.param("(|a)b", "ab", ["b", "ab"], ["", "a", "aab"], id="leading-empty-alternative"),
    pytest.param("a{0}", "ab", [""], ["a"], id="zero-repeats"),  # automata-lib alone accepts "a" here
    pytest.param("a{0,0}b", "ab", ["b"], ["ab"], id="zero-zero-repeats"),
    pytest.param("a{2}", "ab", ["aa"], ["a", "aaa"], id="exact-repeats"),
    pytest.param("a{2,}", "ab", ["aa", "aaaa"], ["a"], id="at-least"),
    pytest.param("a{,2}", "ab", ["", "a", "aa"], ["aaa"], id="at-most"),
    pytest.param("(ab){1,2}", "ab", ["ab", "abab"], ["", "ababab", "a"], id="range-repeats"),
    pytest.param("a+b?", "ab", ["a", "aab"], ["", "b", "abb"], id="plus-option"),
    pytest.param(".", "abc", ["a", "b", "c"], ["", "ab"], id="dot"),
    pytest.param("[^a]*", "abc", ["", "bcb"], ["a", "ba"], id="negated-class"),
    pytest.param("[a-b]c", "abc", ["ac", "bc"], ["cc"], id="range-class"),
    pytest.param("[a-z]", "ab", ["a", "b"], [""], id="range-beyond-alphabet"),
    pytest.param("[^ab]", "ab", [], ["", "a", "b"], id="empty-language"),
    pytest.param("[-a]", "a-", ["-", "a"], ["--"], id="dash-first-in-class"),
    pytest.param("[a-]", "a-", ["-", "a"], ["aa"], id="dash-last-in-class"),
    pytest.param("[a^]", "a^", ["^", "a"], [""], id="caret-not-first"),
    pytest.param("[\\]a]", "a]", ["]", "a"], [""], id="escaped-bracket-in-class"),
    pytest.param("\\(\\)*", "()", ["(", "()", "())"], [")", ""], id="escaped-parens"),
    pytest.param("\\.", ".a", ["."], ["a"], id="escaped-dot"),
    pytest.param("\\\\+", "\\", ["\\", "\\\\"], [""], id="escaped-backslash"),
    # characters that automata-lib would treat specially are plain symbols here
    pytest.param("a&b", "ab&", ["a&b"], ["a", "b"], id="ampersand-is-a-symbol"),
    pytest.param("a^b", "ab^", ["a^b"], ["ab", "ba"], id="caret-is-a-symbol"),
    pytest.param("a b", "ab ", ["a b"], ["ab"], id="blank-is-a-symbol"),
    pytest.param("a\tb", "ab\t", ["a\tb"], ["ab"], id="tab-is-a-symbol"),
    pytest.param("$", "$", ["$"], [""], id="dollar-is-a-symbol"),
    pytest.param("((a)(b))", "ab", ["ab"], ["a", "b", "ba"], id="nested-groups"),
    pytest.param("((a|b)(a|b))*", "ab", ["", "ab", "bbaa"], ["a", "aba"], id="even-length"),
]


@pytest.mark.parametrize("pattern, alphabet, accepted, rejected", CASES)
def test_examples(pattern, alphabet, accepted, rejected):
    d = regex_to_dfa(pattern, alphabet)
    for w in accepted:
        assert d.accepts(w), w
    for w in rejected:
        assert not d.accepts(w), w


@pytest.mark.parametrize("pattern, alphabet, n_states", [
    pytest.param("(a|b)*abb", "ab", 4, id="ends-abb"),
    pytest.param("(b*ab*a)*b*", "ab", 2, id="parity"),
    pytest.param("((a|b){3})*", "ab", 3, id="length-mod-3"),
    pytest.param("a*", "ab", 2, id="a-star-with-sink"),
    pytest.param("(a|b)*", "ab", 1, id="everything"),
    pytest.param("[^ab]", "ab", 1, id="nothing"),
    pytest.param(".*a.{5}", "abcdefghijklmnopqrst", 64, id="6th-from-last-20-symbols"),
    pytest.param("a{5}", "a", 7, id="count-to-5"),
])
def test_minimal_state_counts(pattern, alphabet, n_states):
    d = regex_to_dfa(pattern, alphabet)
    assert d.n_states == n_states and d.is_complete and d.start == 0


def test_dfa_from_regex_delegates():
    assert np.array_equal(DFA.from_regex("(a|b)*abb", "ab").table, regex_to_dfa("(a|b)*abb", "ab").table)


def test_numbering_is_bfs_in_alphabet_order():
    d = regex_to_dfa("(a|b)*abb", "ab")
    assert d.table.tolist() == [[1, 0], [1, 2], [1, 3], [1, 0]] and d.accepting == {3}
    # same language, other spelling: identical table
    assert np.array_equal(regex_to_dfa("(b|a)*a(b)(b)|(a|b)*abb", "ab").table, d.table)
    # alphabet order decides the numbering
    d_ba = regex_to_dfa("(a|b)*abb", "ba")
    assert d_ba.alphabet == ("b", "a") and d_ba.table.tolist() == [[0, 1], [2, 1], [3, 1], [0, 1]]


@pytest.mark.parametrize("pattern, fragment", [
    pytest.param("(ab", "'(' at position 0 is never closed", id="unclosed-paren"),
    pytest.param("a)b", "')' at position 1 has no matching '('", id="stray-close-paren"),
    pytest.param("*a", "nothing to repeat: '*' at position 0", id="leading-star"),
    pytest.param("a|*", "nothing to repeat: '*' at position 2", id="star-after-bar"),
    pytest.param("(+a)", "nothing to repeat: '+' at position 1", id="plus-after-paren"),
    pytest.param("{2}", "nothing to repeat", id="leading-braces"),
    pytest.param("a**", "multiple repeat: '*' at position 2", id="double-star"),
    pytest.param("a*?", "multiple repeat: '?' at position 2", id="lazy-star"),
    pytest.param("a{2}{3}", "multiple repeat", id="double-braces"),
    pytest.param("a{2", "'{' is never closed", id="unclosed-brace"),
    pytest.param("a{}", "bad repetition '{}'", id="empty-braces"),
    pytest.param("a{,}", "bad repetition '{,}'", id="comma-only-braces"),
    pytest.param("a{x}", "bad repetition '{x}'", id="letter-in-braces"),
    pytest.param("a{-1}", "bad repetition '{-1}'", id="negative-count"),
    pytest.param("a{1,2,3}", "bad repetition", id="three-numbers"),
    pytest.param("a{3,1}", "the minimum 3 exceeds the maximum 1", id="min-over-max"),
    pytest.param("a{ 2}", "bad repetition", id="blank-in-braces"),
    pytest.param("a}", "unmatched '}' at position 1", id="stray-close-brace"),
    pytest.param("a]", "unmatched ']' at position 1", id="stray-close-bracket"),
    pytest.param("[ab", "unterminated character class '[' at position 0", id="unclosed-class"),
    pytest.param("[]", "empty character class at position 0", id="empty-class"),
    pytest.param("[^]", "empty character class", id="empty-negated-class"),
    pytest.param("[b-a]", "bad character range b-a", id="reversed-range"),
    pytest.param("[[a]]", "'[' at position 1 inside a character class", id="nested-class"),
    pytest.param("a\\", "ends with '\\'", id="trailing-backslash"),
    pytest.param("\\d", "unsupported escape '\\d'", id="digit-class-escape"),
    pytest.param("\\w+", "unsupported escape '\\w'", id="word-class-escape"),
    pytest.param("[\\s]", "unsupported escape '\\s'", id="escape-in-class"),
    pytest.param("(" * 5000 + "a" + ")" * 5000, "nests", id="too-deep"),
])
def test_malformed_patterns(pattern, fragment):
    with pytest.raises(RegexError, match=re.escape(fragment)) as info:
        regex_to_dfa(pattern, "ab")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("pattern, alphabet, fragment", [
    pytest.param("abc", "ab", "symbol 'c' (position 2", id="literal"),
    pytest.param("[ac]", "ab", "symbol 'c' (position 2", id="in-class"),
    pytest.param("^a", "ab", "no anchors", id="caret-anchor-hint"),
    pytest.param("a$", "ab", "no anchors", id="dollar-anchor-hint"),
    pytest.param("a b", "ab", "symbol ' '", id="blank"),
    pytest.param("[a-]", "ab", "symbol '-'", id="literal-dash-in-class"),
])
def test_literal_outside_alphabet(pattern, alphabet, fragment):
    with pytest.raises(AlphabetError, match=re.escape(fragment)):
        regex_to_dfa(pattern, alphabet)


@pytest.mark.parametrize("alphabet, fragment", [
    pytest.param("", "the alphabet is empty", id="empty-string"),
    pytest.param([], "the alphabet is empty", id="empty-list"),
    pytest.param("aba", "'a' appears twice", id="duplicate"),
    pytest.param(["a", ""], "non-empty strings", id="empty-symbol"),
    pytest.param(["a", 1], "non-empty strings", id="non-string"),
    pytest.param(5, "must be a string or a list", id="not-iterable"),
])
def test_bad_alphabet(alphabet, fragment):
    with pytest.raises(AlphabetError, match=fragment):
        regex_to_dfa("a", alphabet)


def test_non_string_pattern():
    with pytest.raises(RegexError, match="must be a string"):
        regex_to_dfa(["a"], "ab")


def test_state_limit_on_the_minimal_dfa():
    assert regex_to_dfa("a{20}", "a", max_states=22).n_states == 22
    with pytest.raises(LimitError, match=re.escape("minimal DFA of the pattern 'a{20}' has 22 states, over the limit of 21")):
        regex_to_dfa("a{20}", "a", max_states=21)


def test_state_limit_stops_subset_construction_early():
    # the minimal DFA has 2**25 states; determinization must stop, not run for hours
    with pytest.raises(LimitError, match="determinizing the pattern needs more than 1600 states"):
        regex_to_dfa("(a|b)*a(a|b){24}", "ab", max_states=100)


def test_state_limit_on_huge_repetition_counts():
    with pytest.raises(LimitError, match="expands to about"):
        regex_to_dfa("(ab){100000}", "ab")


def test_errors_are_statetrack_errors_without_automata_lib_leaks():
    for pattern in ["(", "a**", "[", "\\", "a{9,1}", "&", "^"]:
        with pytest.raises(StatetrackError):
            regex_to_dfa(pattern, "ab")


# -------------------------------------------------------------- multi-character symbols
TOKENS = ("up", "down", "u", "(x)")


@pytest.mark.parametrize("pattern, accepted, rejected", [
    pytest.param("up(down)*", [["up"], ["up", "down", "down"]], [["down"], ["u", "down"]], id="words"),
    pytest.param("upu", [["up", "u"]], [["u", "u"], ["u"]], id="longest-match"),
    pytest.param("u()up", [["u", "up"]], [["up", "u"]], id="empty-group-separates"),
    pytest.param("[^u]*", [[], ["up", "down", "(x)"]], [["u"]], id="negated-class"),
    pytest.param("[up down]", [["up"], ["down"]], [["u"]], id="class-of-words"),
    pytest.param("\\(x)|u", [["(x)"], ["u"]], [["up"]], id="escaped-metachar-symbol"),
    pytest.param(".{2}", [["u", "(x)"]], [["u"]], id="dot"),
])
def test_multichar_alphabet(pattern, accepted, rejected):
    alphabet = TOKENS + ((" ",) if " " in pattern else ())
    d = regex_to_dfa(pattern, alphabet)
    assert d.alphabet == alphabet
    for w in accepted:
        assert d.accepts(w), w
    for w in rejected:
        assert not d.accepts(w), w


def test_multichar_unknown_text_is_named():
    with pytest.raises(AlphabetError, match="no symbol starts at 'left'"):
        regex_to_dfa("up|left", TOKENS)


def test_group_tokens_as_symbols():
    toks = ("0,1,2", "1,0,2", "1,2,0")
    d = regex_to_dfa("(1,0,2)*1,2,0", toks)
    assert d.accepts(["1,0,2", "1,0,2", "1,2,0"]) and not d.accepts(["1,2,0", "1,0,2"])


def test_rendering_uses_private_characters_only():
    text = to_automata_lib(parse("a&b|[^c] .", "abc& ."))
    assert all(ch in "()|[]*+?{},0123456789" or 0xE000 <= ord(ch) <= 0xF8FF for ch in text)


def test_large_alphabets_use_private_planes():
    alphabet = [f"s{i}" for i in range(6500)]
    d = regex_to_dfa("s6499s0", alphabet, max_states=10)
    assert d.accepts(["s6499", "s0"]) and not d.accepts(["s0", "s6499"])


# -------------------------------------------------------------- against automata-lib and Python's re
@pytest.mark.parametrize("pattern", ["(a|b)*abb", ".*a.{3}", "(ab|ba)*", "a{2,4}b+|c"])
def test_same_size_as_automata_lib_alone(pattern):
    from automata.fa.dfa import DFA as LibDFA
    from automata.fa.nfa import NFA

    lib = LibDFA.from_nfa(NFA.from_regex(pattern.replace(".", "(a|b|c)"), input_symbols=set("abc")))
    lib = lib.to_complete().minify()
    assert regex_to_dfa(pattern, "abc").n_states == len(lib.states)


def test_agreement_check_catches_a_wrong_dfa():
    """The comparison used below must notice a DFA that differs from re on one long-ish word."""
    d = regex_to_dfa("(a|b)*abb", "ab")
    broken = DFA(alphabet=d.alphabet, table=d.table, start=d.start, accepting=d.accepting | {2})
    assert np.array_equal(accepts_all(d, 8), re_accepts_all("(a|b)*abb", "ab", 8))
    assert not np.array_equal(accepts_all(broken, 8), re_accepts_all("(a|b)*abb", "ab", 8))


def test_strategy_renders_both_syntaxes():
    """A hand-checked sample of what random_regexes produces agrees with re (sanity of the oracle)."""
    for ours, python, alphabet in [("a|", "a|", "ab"), ("(\\*|a)+", "(?:\\*|a)+", "a*("),
                                   ("[\\-0]{,2}", "[\\-0]{,2}", "0-]"), ("x .", "x\\ .", "x .")]:
        assert np.array_equal(accepts_all(regex_to_dfa(ours, alphabet), 6), re_accepts_all(python, alphabet, 6))


@given(random_regexes())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_regexes_agree_with_re_and_are_minimal(case):
    ours, python, alphabet = case
    d = regex_to_dfa(ours, alphabet)
    assert d.is_complete and d.start == 0
    got = accepts_all(d, 8)
    want = re_accepts_all(python, alphabet, 8)
    if not np.array_equal(got, want):
        bad = next(w for w, g, x in zip(all_words(alphabet, 8), got, want) if g != x)
        raise AssertionError(f"{ours!r} vs re {python!r} differ on {''.join(bad)!r}")
    # minimal: re-minimizing changes nothing, and (when small enough for the O(n^2) slow twin)
    # table filling, i.e. the Myhill–Nerode classes, finds nothing to merge
    assert np.array_equal(minimize(d).table, d.table)
    if d.n_states <= 40:
        ref = minimize_reference(d)
        assert ref.n_states == d.n_states and np.array_equal(ref.table, d.table)
