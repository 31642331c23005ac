"""The pre-state caveat (PAPER_NOTES claim 5): a stacked LRNN whose layers see the layer below only
through a width-2 causal shift computes the cascade exactly; reading post-letter states does not."""
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings

from tests.krohn_rhodes.kr_cases import NAMED, PRE_STATE, all_codes
from statetrack.automata.dfa import DFA
from statetrack.constructions import compile
from statetrack.constructions.krohn_rhodes import run_with_shift
from statetrack.errors import LimitError
from tests.strategies import random_dfas


def every_prefix(dfa: DFA, weights, length: int, shift: bool) -> tuple[np.ndarray, np.ndarray]:
    """(model, DFA) states after every prefix of every word of one length: all words <= length."""
    codes = all_codes(dfa.n_symbols, length)
    return run_with_shift(weights, codes, shift=shift), dfa.trajectory(codes)


def length_for(dfa: DFA) -> int:
    return 10 if dfa.n_symbols <= 2 else 7


@pytest.mark.parametrize("name", list(NAMED))
def test_causal_shift_stack_is_exact(name):
    dfa = NAMED[name]()
    got, want = every_prefix(dfa, compile(dfa, "krohn-rhodes"), length_for(dfa), shift=True)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("name", PRE_STATE)
def test_post_letter_stack_fails_where_levels_read_pre_reset_states(name):
    dfa = NAMED[name]()
    weights = compile(dfa, "krohn-rhodes")
    assert weights.n_layers >= 2
    got, want = every_prefix(dfa, weights, length_for(dfa), shift=False)
    wrong = (got != want).any(axis=1)
    assert wrong.mean() > 0.5                    # most words go wrong somewhere


@pytest.mark.parametrize("name", ["mod5-reset", "flip-flop", "parity-reset"])
def test_one_layer_models_do_not_care(name):
    """With a single layer there is no lower state to read: both stacks agree with the DFA."""
    dfa = NAMED[name]()
    weights = compile(dfa, "krohn-rhodes")
    assert weights.n_layers == 1
    for shift in (True, False):
        got, want = every_prefix(dfa, weights, 8, shift=shift)
        assert np.array_equal(got, want)


def test_zero_padding_stands_for_the_initial_state():
    """From every start state: position 0 reads zero padding, which must decode as H_0 even where
    the lower layers' initial codes are not 0."""
    base = NAMED["shift-register"]()
    off_zero = 0
    for q in range(base.n_states):
        dfa = DFA(alphabet=base.alphabet, table=base.table, start=q, accepting=base.accepting)
        weights = compile(dfa, "krohn-rhodes")
        off_zero += any(layer.h0[0, 0] == 0 for layer in weights.layers[:-1])
        got, want = every_prefix(dfa, weights, 6, shift=True)
        assert np.array_equal(got, want), q
    assert off_zero > 0


def test_shift_stack_check_catches_a_broken_model():
    """The comparison is not vacuous: a wrong decoder table makes it fail."""
    dfa = NAMED["counter-reset-parity"]()
    weights = compile(dfa, "krohn-rhodes")
    broken = dataclasses.replace(weights, state_map=np.roll(weights.state_map, 1, axis=-1))
    got, want = every_prefix(dfa, broken, 8, shift=True)
    assert not np.array_equal(got, want)


@given(random_dfas(max_states=7, max_symbols=3))
@settings(max_examples=30, deadline=None)
def test_random_dfas_through_the_causal_shift_stack(dfa):
    try:
        weights = compile(dfa, "krohn-rhodes")
    except LimitError:
        return
    dfa = dfa.complete()
    got, want = every_prefix(dfa, weights, 6, shift=True)
    assert np.array_equal(got, want)
