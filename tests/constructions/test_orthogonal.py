"""orthogonal and dihedral-cascade: fewest reflections per element, faithful representations, exact runs."""
import dataclasses

import numpy as np
import pytest

from statetrack.automata.groups import group
from statetrack.constructions import compile
from statetrack.constructions.factorize import fewest_reflections, reflection_length
from statetrack.constructions.reps import Representation, best, candidates, is_faithful_rep, permutation_rep
from statetrack.constructions.weights import product_matrix
from statetrack.errors import ConstructionError
from statetrack.verify import check


@pytest.mark.parametrize("name, width, n_h, exact", [
    pytest.param("S4", 3, 2, True, id="S4-cube"),
    pytest.param("A4", 3, 2, True, id="A4-cube"),
    pytest.param("A5", 3, 2, False, id="A5-icosahedron"),
    pytest.param("D5", 2, 2, False, id="D5-pentagon"),
    pytest.param("D4", 2, 2, True, id="D4-square"),
])
def test_orthogonal_meets_the_width_and_factor_bars(name, width, n_h, exact):
    w = compile(group(name), "orthogonal")
    s = w.summary()
    assert s["widths"] == [width] and s["max_factors_per_symbol"] == n_h
    assert s["exact_entries"] is exact and s["symmetric_only"] and s["betas"] == [2.0]


@pytest.mark.parametrize("name", ["S3", "S4", "A4", "A5", "S5", "D6", "Z6", "A4xZ5", "Z3xZ3"])
def test_never_worse_than_the_permutation_construction(name):
    g = group(name)
    rep, p1 = best(g), permutation_rep(g)
    assert (rep.n_h, rep.width) <= (p1.n_h, p1.width)
    assert is_faithful_rep(g.cayley_table(), rep.mats)


@pytest.mark.parametrize("name", ["S4", "A5", "D5"])
def test_each_element_is_exactly_its_reflection_count(name):
    g = group(name)
    w = compile(g, "orthogonal")
    layer = w.layers[0]
    for e in range(g.order):
        fs = layer.factors[e]
        assert len(fs) == reflection_length(layer.codebook[e])
        assert np.abs(product_matrix(fs, layer.width) - layer.codebook[e]).max() < 1e-12


def test_fewest_reflections_on_random_orthogonal_matrices():
    rng = np.random.default_rng(0)
    for n in range(1, 7):
        for _ in range(20):
            q, _ = np.linalg.qr(rng.standard_normal((n, n)))
            if rng.random() < 0.5:    # a matrix with a large fixed space
                k = int(rng.integers(0, n + 1))
                q = np.eye(n)
                q[:k, :k] = np.linalg.qr(rng.standard_normal((k, k)))[0] if k else q[:k, :k]
            fs = fewest_reflections(q)
            assert len(fs) == reflection_length(q) <= n
            assert np.abs(product_matrix(fs, n) - q).max() < 1e-12


def test_a_broken_representation_is_not_faithful():
    g = group("S4")
    rep = best(g)
    broken = rep.mats.copy()
    broken[[1, 2]] = broken[[2, 1]]                     # two elements' matrices swapped
    assert not is_faithful_rep(g.cayley_table(), broken)
    assert not is_faithful_rep(g.cayley_table(), np.repeat(np.eye(3)[None], g.order, 0))   # trivial map


@pytest.mark.parametrize("name, construction, dtypes", [
    pytest.param("S4", "orthogonal", ("float64", "float32", "bfloat16", "float16"), id="S4-all-formats"),
    pytest.param("A4", "orthogonal", ("float64", "float32", "bfloat16", "float16"), id="A4-all-formats"),
    pytest.param("A5", "orthogonal", ("float64",), id="A5-float64"),
    pytest.param("D5", "orthogonal", ("float64",), id="D5-float64"),
    pytest.param("D5", "dihedral-cascade", ("float64",), id="D5-two-layers"),
    pytest.param("D4", "dihedral-cascade", ("float64", "bfloat16"), id="D4-two-layers"),
    pytest.param("Z7", "dihedral-cascade", ("float64",), id="Z7-two-layers"),
])
def test_exact_on_random_words(name, construction, dtypes):
    w = compile(group(name), construction)
    reports = check(w, max_len=2, dtypes=dtypes, long_words=4, long_len=1_500, seed=1)
    for r in reports:
        assert r.passed, r


@pytest.mark.parametrize("name", ["D3", "D5", "D6", "Z5", "Z8"])
def test_cascade_has_one_factor_per_letter_in_each_layer(name):
    w = compile(group(name), "dihedral-cascade")
    s = w.summary()
    assert s["layers"] == 2 and s["widths"] == [1, 2] and s["max_factors_per_symbol"] == 1
    assert s["layer_n_h"] == [1, 1]


def test_cascade_with_a_broken_gauge_fails_verification():
    w = compile(group("D5"), "dihedral-cascade")
    parity = w.layers[0]
    # drop the parity flip of every letter: layer 2's gauge no longer matches the decoded parity
    broken = dataclasses.replace(parity, factors=tuple(() for _ in parity.factors))
    w2 = dataclasses.replace(w, layers=(broken, w.layers[1]))
    r = check(w2, max_len=2, dtypes=("float64",), long_words=2, long_len=50)[0]
    assert not r.passed and r.mismatches > 0


def test_orthogonal_refuses_a_dfa():
    from statetrack.automata.dfa import DFA

    with pytest.raises(ConstructionError, match="group word problems"):
        compile(DFA.from_regex("(ab)*", "ab"), "orthogonal")


def test_candidates_list_the_permutation_fallback():
    names = [r.name for r in candidates(group("S5"))]
    assert names == ["permutation (P1)"]                 # no smaller representation of S5 in the search
    assert isinstance(best(group("S5")), Representation)


@pytest.mark.parametrize("name, construction", [
    pytest.param("S4", "orthogonal", id="S4-orthogonal"),
    pytest.param("D5", "dihedral-cascade", id="D5-cascade"),
])
def test_models_load_the_new_constructions(name, construction):
    torch = pytest.importorskip("torch")
    from statetrack.models import from_weights
    from statetrack.tasks.base import run_table

    g = group(name)
    model = from_weights(compile(g, construction), dtype=torch.float64)
    words = torch.randint(0, g.order, (8, 60), generator=torch.Generator().manual_seed(2))
    dfa = g.to_dfa()
    assert torch.equal(model(words), run_table(torch.tensor(np.array(dfa.table, dtype=np.int64)), 0, words))


def test_cli_compiles_with_the_new_construction_names(tmp_path, capsys):
    from statetrack.cli import main

    assert main(["compile", "--group", "D5", "--construction", "dihedral-cascade", "-o", str(tmp_path / "d5")]) == 0
    assert "2 layer(s), widths [1, 2]" in capsys.readouterr().out
    assert main(["compile", "--regex", "a*", "--alphabet", "a", "--construction", "orthogonal",
                 "-o", str(tmp_path / "x")]) == 2
    assert "group word problems" in capsys.readouterr().err
