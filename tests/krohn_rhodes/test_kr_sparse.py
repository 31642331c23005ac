"""Sparse routes (issue 16): the weights store routes and the state map over the reachable code
tuples only (a CodeIndex), run exactly, and refuse any tuple they do not store."""
import dataclasses
import json
import struct

import numpy as np
import pytest
import torch

from statetrack.automata.dfa import DFA
from statetrack.constructions import compile
from statetrack.constructions.code_index import CodeIndex
from statetrack.constructions.krohn_rhodes import run_with_shift
from statetrack.constructions.weights import load
from statetrack.errors import UnreachableConfigurationError, WeightsFileError
from statetrack.models import from_weights
from statetrack.verify import check
from tests.krohn_rhodes.kr_cases import all_codes


def twelve_states() -> DFA:
    """A random 12-state DFA whose cascade has 9 levels: 535 reachable configurations, 67,646 dense entries
    (under SgpDec's grading: 13 levels, 2.4e7 dense entries)."""
    rng = np.random.default_rng([7, 26])
    return DFA(alphabet="ab", table=rng.integers(0, 12, size=(12, 2)), start=0, accepting={0, 3, 5})


@pytest.fixture(scope="module")
def sparse():
    return compile(twelve_states(), "krohn-rhodes")


def test_index_numbers_only_stored_tuples():
    idx = CodeIndex(widths=(2, 3), keys=(np.array([0, 1]), np.array([1, 3, 5])))
    assert idx.counts == (1, 2, 3) and idx.stored_entries == 5 and not idx.is_full()
    assert idx.locate([np.array([0, 1, 1]), np.array([1, 0, 2])]).tolist() == [0, 1, 2]
    assert idx.locate([np.array([0, 1, 1]), np.array([0, 1, 3])]).tolist() == [-1, -1, -1]   # 3: no such code
    assert idx.prefixes(2).tolist() == [[0, 1], [1, 0], [1, 2]]
    full = CodeIndex.full((2, 3, 4))
    c = [np.array([1, 0]), np.array([2, 1]), np.array([3, 0])]
    assert full.locate(c).tolist() == np.ravel_multi_index(c, (2, 3, 4)).tolist() and full.is_full()


@pytest.mark.parametrize("keys", [
    pytest.param((np.array([1, 0]), np.array([0])), id="not-increasing"),
    pytest.param((np.array([0, 2]), np.array([0])), id="code-beyond-width"),
    pytest.param((np.array([0]),), id="one-array-short"),
])
def test_index_rejects_malformed_keys(keys):
    with pytest.raises(ValueError):
        CodeIndex(widths=(2, 3), keys=keys)


def test_sparse_tables_instead_of_dense(sparse):
    """9 layers, 67,646 dense entries: the weights hold a few thousand, and every route is stored
    over the cascade's reachable prefixes."""
    info, entries = sparse.info, sparse.stored_entries()
    assert info["levels"] == 9 and info["dense_table_entries"] > 60_000
    assert entries["total"] == info["stored_table_entries"] < 5_000 and entries["dense"] == info["dense_table_entries"]
    assert sparse.state_map.shape == (info["reachable_cascade_states"],)
    counts = sparse.index.counts
    assert [layer.route.shape for layer in sparse.layers[1:]] == [(2, p) for p in counts[1:-1]]


def test_sparse_weights_are_exact_in_every_format(sparse):
    reports = check(sparse, max_len=10, long_words=4, long_len=1000)
    assert all(r.passed for r in reports), [r for r in reports if not r.passed]
    codes = all_codes(2, 8)
    assert np.array_equal(run_with_shift(sparse, codes), twelve_states().trajectory(codes))
    model = from_weights(sparse, dtype=torch.float64)
    assert torch.equal(model(torch.as_tensor(codes)), torch.as_tensor(twelve_states().trajectory(codes)[:, 1:]))


def _unstored_tuple(weights) -> list[np.ndarray]:
    """Some tuple of codes (one per layer) that the index does not hold."""
    rng = np.random.default_rng(0)
    codes = [rng.integers(0, layer.n_codes, size=256) for layer in weights.layers]
    ids = weights.index.locate(codes)
    k = int(np.flatnonzero(ids < 0)[0])
    return [c[k:k + 1] for c in codes]


def _misrouted(weights):
    """Layer 0 reads letter 'a' as if it were 'b': lower code tuples leave the stored ones."""
    bottom = weights.layers[0]
    route = bottom.route.copy()
    route[0] = route[1]
    return dataclasses.replace(weights, layers=(dataclasses.replace(bottom, route=route),) + weights.layers[1:])


def test_unstored_tuples_are_errors_not_defaults(sparse):
    with pytest.raises(UnreachableConfigurationError, match="not a reachable configuration"):
        sparse.automaton_states(_unstored_tuple(sparse))
    broken = _misrouted(sparse)
    words = ["".join(w) for w in np.array(list("ab"))[all_codes(2, 8)]]
    with pytest.raises(UnreachableConfigurationError):
        broken.run_states(words)
    with pytest.raises(UnreachableConfigurationError):
        from_weights(broken, dtype=torch.float64)(torch.as_tensor(all_codes(2, 8)))
    shifted = run_with_shift(broken, all_codes(2, 8))              # the independent stack marks them -1
    assert (shifted == -1).any()


def test_save_load_round_trip_keeps_the_index(sparse, tmp_path):
    path = tmp_path / "m.safetensors"
    sparse.save(path)
    back = load(path)
    assert all(np.array_equal(a, b) for a, b in zip(back.index.keys, sparse.index.keys))
    words = ["", "ab", "abba", "bbbbbab", "aabababbba"]
    assert back.run_states(words) == sparse.run_states(words) == [twelve_states().run(w) for w in words]


def _rewrite(path, edit) -> None:
    """Rewrite a safetensors file's header JSON and tensors through ``edit(tensors, meta)``."""
    from safetensors.numpy import load as st_load, save

    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    meta = json.loads(json.loads(raw[8:8 + n])["__metadata__"]["statetrack"])
    tensors = dict(st_load(raw))
    edit(tensors, meta)
    path.write_bytes(save(tensors, metadata={"statetrack": json.dumps(meta)}))


@pytest.mark.parametrize("edit, message", [
    pytest.param(lambda t, m: m.update(format=1), "format 1 .*compile it again", id="old-format"),
    pytest.param(lambda t, m: t.update({"index.keys1": t["index.keys1"][::-1].copy()}), "corrupt", id="keys-order"),
    pytest.param(lambda t, m: t.pop("index.keys2"), "corrupt", id="keys-missing"),
    pytest.param(lambda t, m: t.update({"layer2.route": t["layer2.route"][:, :-1].copy()}), "corrupt",
                 id="route-short"),
    pytest.param(lambda t, m: t.update({"state_map": t["state_map"][:-1].copy()}), "corrupt", id="state-map-short"),
])
def test_old_or_corrupt_files_are_refused(sparse, tmp_path, edit, message):
    path = tmp_path / "m.safetensors"
    sparse.save(path)
    _rewrite(path, edit)
    with pytest.raises(WeightsFileError, match=message):
        load(path)
