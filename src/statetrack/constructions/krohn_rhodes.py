"""``krohn-rhodes``: any complete DFA as a stack of LRNN layers of symmetric GH factors (P1 Thm 4).

Stages: DFA -> :class:`~statetrack.automata.krohn_rhodes.Cascade` (holonomy decomposition in its
closed grading, at most |Q| - 1 levels before packing, see
:mod:`statetrack.automata.krohn_rhodes.skeleton` and :mod:`statetrack.automata.krohn_rhodes.holonomy`)
-> one layer per cascade level.

**Layer i = level i.** One-hot state over the level's C_i states, H_0 = e_{initial_i}, identity
codebook (the decoded code is the argmax coordinate). Layer symbol = the level's action, chosen by
``route[letter, codes of layers 0..i-1 before the letter]`` = the cascade's dependency table.
Every factor is a symmetric generalized Householder factor ``I - beta k k^T`` with a unit key:

- permutation: the product of its swaps ``I - 2 v v^T``, v = (e_a - e_b)/sqrt 2 (beta = 2,
  P1 Prop 1b), at most C_i - 1 of them; B = 0. The identity is the empty product;
- reset to q: ``A = 0`` as the product of the C_i projections ``I - e_j e_j^T`` (beta = 1; a
  product of k rank-one updates of I has rank >= C_i - k, so C_i is the fewest), and B = e_q.

All entries are 0 and ±1 with ``beta / (w^T u) = 1``, so every float format runs it exactly.

**The pre-state caveat (P1 Thm 4, PAPER_NOTES claim 5).** Level i must read the lower levels'
states *before* the current letter, but a stacked LRNN hands each layer the outputs *after* it,
and a reset destroys the earlier state. The mechanism for real LRNN layers: the short causal
convolution that DeltaNet/Mamba layers apply to their input. With the residual stream
``z_i(t) = [onehot(x_t); o_0(t); ...; o_{i-1}(t)]`` (letter embedding plus the outputs of the
layers below) and layer outputs ``o_j(t) = vec(H_j(t) - H_j(0))``, a width-2 causal convolution
``c_i(t) = K_1 z_i(t) + K_0 z_i(t-1)`` (``z_i(-1) = 0``) with

- ``K_1`` = keep the letter block, zero the rest (the current letter),
- ``K_0`` = keep the lower-output blocks, zero the letter block (their value one position back),

gives layer i exactly (x_t, o_j(t-1)): ``H_j(t-1)`` is layer j's state after x_0..x_{t-1},
i.e. its state before x_t. At t = 0 the padding is 0, and ``o_j = 0`` decodes as ``H_j(0)``, the
initial state: that is why the output subtracts ``H_j(0)``. The decoder of layer i then reads the
letter by argmax and each lower code by the nearest codebook entry to ``block + vec(H_j(0))``, and
the route picks the layer symbol. :func:`run_with_shift` is this stacked model, written
independently of :mod:`statetrack.constructions.engine` (layer by layer over the whole sequence,
dense matrices), and ``shift=False`` (``K_1`` keeps everything, ``K_0 = 0``) is the naive stack that
reads post-letter states; the tests show the first agrees with the DFA on every word up to a length
and the second fails on automata where an upper level depends on a lower level's pre-reset state.
Models loading these weights need: ``route`` (layer symbol table over the reachable lower-code
tuples, numbered by the weights' ``index``), ``codebook`` and ``h0`` (decode
and output offset), widths, and the factors/write per symbol; all are in the weights file.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from statetrack.automata.dfa import DFA
from statetrack.automata.krohn_rhodes import NAME, Action, Cascade, CascadeLimits, decompose, table_entries
from statetrack.constructions.common import dfa_source, permutation_swaps
from statetrack.constructions.code_index import CodeIndex
from statetrack.constructions.weights import Factor, Layer, LRNNWeights

#: Limits of the ``krohn-rhodes`` construction when none are given (see CascadeLimits).
DEFAULT_LIMITS = CascadeLimits()


def action_factors(action: Action) -> tuple[tuple[Factor, ...], np.ndarray]:
    """Factors (application order) and write B (n, 1) of one level action on an n-state one-hot level."""
    n = action.width
    write = np.zeros((n, 1))
    if action.is_constant:
        write[action.image[0]] = 1.0
        return tuple(Factor.projection(j, n) for j in range(n)), write
    return tuple(Factor.swap(i, j, n) for i, j in permutation_swaps(action.image)), write


def level_layer(cascade: Cascade, i: int) -> Layer:
    """The LRNN layer of cascade level i: one layer symbol per distinct action.

    ``route`` is the cascade's dependency table over its reachable prefixes: (n_letters, P_i) for
    i > 0, numbered like the cascade's prefix trie (= the weights' CodeIndex); (n_letters,) for i = 0.
    """
    n = cascade.widths[i]
    parts = [action_factors(a) for a in cascade.actions[i]]
    h0 = np.zeros((n, 1))
    h0[cascade.initial[i]] = 1.0
    route = cascade.tables[0][:, 0].copy() if i == 0 else cascade.tables[i].copy()
    return Layer(factors=tuple(f for f, _ in parts), write=np.stack([b for _, b in parts]), h0=h0,
                 codebook=np.eye(n)[:, :, None], route=route)


def from_cascade(cascade: Cascade, dfa: DFA, source: dict | None = None,
                 limits: CascadeLimits | None = None) -> LRNNWeights:
    """Weights running ``cascade``, whose state map refers to the states of ``dfa`` (complete).

    Routes and state map are stored over the cascade's reachable prefixes only (its trie becomes
    the weights' CodeIndex); LimitError when those stored entries exceed ``max_table_entries``."""
    limits = limits or DEFAULT_LIMITS
    limits.check(cascade.widths, cascade.n_letters, cascade.table_entries)
    layers = tuple(level_layer(cascade, i) for i in range(cascade.n_levels))
    weights = LRNNWeights(
        alphabet=dfa.alphabet,
        layers=layers,
        state_map=cascade.state_map.copy(),
        accepting=dfa.accepting_mask,
        construction="krohn-rhodes",
        source=source or dfa_source(dfa),
        state_labels=dfa.labels,
        index=CodeIndex.from_children(cascade.children),
    )
    return replace(weights, info=_info(cascade, weights))


def build(dfa: DFA, *, source: dict | None = None, limits: CascadeLimits | None = None) -> LRNNWeights:
    """Compile a DFA (completed first) through its holonomy cascade; LimitError beyond ``limits``."""
    dfa = dfa.complete()
    limits = limits or DEFAULT_LIMITS
    return from_cascade(decompose(dfa, limits), dfa, source, limits)


def _info(cascade: Cascade, weights: LRNNWeights) -> dict:
    """Metadata: levels, widths, factors per letter (max over reachable cascade states), groups."""
    counts = [np.array(layer.factors_per_symbol(), dtype=np.int64) for layer in weights.layers]
    reach = cascade.reachable()
    prefix_ids = [cascade.locate(reach, upto=i) for i in range(cascade.n_levels)]
    per_letter = {}
    for a, letter in enumerate(cascade.alphabet):
        total = sum(counts[i][cascade.tables[i][a, prefix_ids[i]]] for i in range(cascade.n_levels))
        per_letter[letter] = int(np.max(total))
    kinds = [{k: sum(a.kind == k for a in acts) for k in ("permutation", "constant")} for acts in cascade.actions]
    return {
        "decomposition": NAME,
        # layer i reads the letter at t and the lower layers' outputs H_j(t-1) - H_j(0) (module docstring)
        "pre_state": "causal-shift-2",
        "levels": cascade.n_levels,
        "widths": list(cascade.widths),
        "factors_per_letter": per_letter,
        "max_factors_per_layer_symbol": [int(c.max(initial=0)) for c in counts],
        "level_actions": kinds,
        "reachable_cascade_states": int(len(reach)),
        "product_of_widths": int(np.prod(cascade.widths, dtype=object)),
        "table_entries": cascade.table_entries,
        "stored_table_entries": weights.stored_entries()["total"],
        "dense_table_entries": table_entries(cascade.widths, cascade.n_letters),
        "holonomy": {k: cascade.info[k] for k in ("grading", "images", "classes", "depths", "depth_groups",
                                                  "sgpdec_widths")
                     if k in cascade.info},
    }


# ---------------------------------------------------------------------- size report
def size_report(dfa: DFA, limits: CascadeLimits | None = None) -> dict:
    """Sizes of the ``krohn-rhodes`` and ``direct`` models of a DFA, side by side.

    Returns a JSON-ready dict: ``states``, and per construction ``layers``, ``widths``,
    ``total_factors`` (stored GH/rank-one factors over all layer symbols), ``max_factors_per_step``
    (factor applications for the costliest letter), ``symmetric_only``; ``krohn-rhodes`` also has
    ``table_entries``, or ``error`` when it exceeds the limits.
    """
    from statetrack.constructions import direct
    from statetrack.errors import LimitError

    dfa = dfa.complete()
    out: dict = {"states": dfa.n_states, "letters": dfa.n_symbols}
    try:
        kr = build(dfa, limits=limits)
        s = kr.summary()
        out["krohn-rhodes"] = {"layers": s["layers"], "widths": s["widths"], "total_factors": s["total_factors"],
                               "max_factors_per_step": max(kr.info["factors_per_letter"].values()),
                               "symmetric_only": s["symmetric_only"], "table_entries": kr.info["table_entries"]}
    except LimitError as e:
        out["krohn-rhodes"] = {"error": str(e)}
    d = direct.build(dfa).summary()
    out["direct"] = {"layers": d["layers"], "widths": d["widths"], "total_factors": d["total_factors"],
                     "max_factors_per_step": d["max_factors_per_symbol"], "symmetric_only": d["symmetric_only"]}
    return out


# ---------------------------------------------------------------------- the stacked model with a causal shift
def run_with_shift(weights: LRNNWeights, codes: np.ndarray, *, shift: bool = True) -> np.ndarray:
    """Run a multi-layer model as a stack of LRNN layers fed through width-2 causal convolutions.

    Independent of the engine: layer by layer over the whole sequence, float64, dense A(s).
    Layer i's input at position t is the residual stream ``z_i(t) = [onehot(x_t); o_0(t); ...;
    o_{i-1}(t)]``, ``o_j(t) = vec(H_j(t) - H_j(0))``; its conv with ``shift=True`` passes the letter
    from position t and the lower outputs from t-1 (zero before the start); ``shift=False`` passes
    both from position t (the post-letter states: wrong after resets).

    Args:
        weights: the model (route tables index (letter, lower codes)).
        codes: int (N, T) letter indices.
    Returns:
        int64 (N, T + 1): decoded automaton state before the first letter and after each letter;
        -1 from the first position where the lower codes form no stored configuration on (the
        route has no entry there: the naive stack can reach such tuples).
    """
    codes = np.asarray(codes, dtype=np.int64)
    N, T = codes.shape
    m = len(weights.alphabet)
    stream = np.zeros((N, T, m))
    stream[np.arange(N)[:, None], np.arange(T)[None, :], codes] = 1.0          # letter embedding
    blocks = [(0, m)]                                                         # (offset, size) per block
    layer_codes = []                                                          # (N, T + 1) per layer
    lost = np.zeros((N, T + 1), dtype=bool)                                   # left the stored tuples
    for layer in weights.layers:
        n, V = layer.h0.shape
        conv_in = np.concatenate([np.zeros((N, 1, stream.shape[2])), stream], axis=1)  # z(-1) = 0
        prev, cur = conv_in[:, :-1], conv_in[:, 1:]
        letter_block = cur[:, :, :m]
        lower = [(prev if shift else cur)[:, :, o:o + s] for o, s in blocks[1:]]
        letters = letter_block.argmax(-1)                                     # (N, T)
        lower_codes = [_nearest(blk + lay.h0.reshape(-1), lay.codebook) for blk, lay in zip(lower, weights.layers)]
        ids = weights.index.locate(lower_codes) if lower_codes else np.zeros((N, T), dtype=np.int64)
        lost[:, 1:] |= ids < 0
        symbols = layer.symbols(letters, np.maximum(ids, 0))                 # (N, T); lost rows marked
        A = np.stack([layer.transition(s) for s in range(layer.n_symbols)])   # (S, n, n)
        h = np.repeat(layer.h0[None], N, axis=0)                             # (N, n, V)
        states = [h]
        for t in range(T):
            s = symbols[:, t]
            h = np.einsum("nij,njv->niv", A[s], h) + layer.write[s]
            states.append(h)
        H = np.stack(states, axis=1)                                          # (N, T + 1, n, V)
        layer_codes.append(_nearest(H.reshape(N, T + 1, -1), layer.codebook))
        out = (H[:, 1:] - layer.h0[None, None]).reshape(N, T, n * V)          # o(t) = H(t) - H(0)
        blocks.append((stream.shape[2], n * V))
        stream = np.concatenate([stream, out], axis=2)
    ids = weights.index.locate(layer_codes)
    lost |= ids < 0
    lost = np.maximum.accumulate(lost, axis=1)
    return np.where(lost, -1, weights.state_map[np.maximum(ids, 0)])


def _nearest(x: np.ndarray, codebook: np.ndarray) -> np.ndarray:
    """Index of the nearest codebook entry: x (..., n*V), codebook (C, n, V) -> (...), by the one
    decoding rule of :func:`statetrack.constructions.engine.nearest_codes`."""
    from statetrack.constructions.engine import nearest_codes

    cb = codebook.reshape(codebook.shape[0], -1)
    return nearest_codes(x.reshape(-1, cb.shape[1]), cb).reshape(x.shape[:-1])
