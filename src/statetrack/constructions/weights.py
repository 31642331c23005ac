"""Explicit LRNN weights: the artefact every construction produces.

A model is a stack of layers ``H_t = A(s_t) H_{t-1} + B(s_t)`` (P1 eq. 1) whose transition
``A(s)`` is stored as a product of rank-one factors, never as a dense matrix:

    F(u, w, beta) = I - beta * u w^T / (w^T u)

Its one non-unit eigenvalue is ``1 - beta`` (eigenvector u). With ``u = w`` it is the generalized
Householder factor ``I - beta k k^T`` (k = u/|u|): beta = 2 is a reflection, beta = 1 a projection.
With ``u != w`` it is the non-symmetric factor of the ``direct`` construction; e.g.
``F(e_i - e_j, e_i, 1)`` moves state i onto state j. Keeping u and w unnormalized lets integer
constructions (swaps ``u = w = e_i - e_j``) stay exact in every float format.

Layer i reads a *layer symbol* ``s_t = route[x_t, id(c_0, ..., c_{i-1})]`` from the letter and the
decoded states of the lower layers *before* the letter (the cascade's pre-states, P1 Thm 4; a real
LRNN gets them through its short causal convolution). Each layer's state is decoded to a code by
the nearest entry of its codebook (a linear read-out followed by argmax), and ``state_map`` sends
the id of the tuple of codes to a state of the source automaton. Tuples of codes are numbered by
a :class:`~statetrack.constructions.code_index.CodeIndex` holding only the reachable ones, so the
tables grow with the reachable configurations, not with the product of the widths; a tuple the
index does not hold raises UnreachableConfigurationError (never a silent default).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from statetrack.constructions.code_index import CodeIndex
from statetrack.errors import WeightsFileError
from statetrack.provenance import atomic_write_bytes  # noqa: F401  (re-exported: older callers import it here)

#: 2: sparse routes and state map over a CodeIndex (format 1 stored them densely over all code tuples)
FORMAT_VERSION = 2
_META_KEY = "statetrack"


@dataclass(frozen=True)
class Factor:
    """``I - beta u w^T / (w^T u)`` on R^n. u, w: float64 (n,); beta: eigenvalue 1 - beta."""

    u: np.ndarray
    w: np.ndarray
    beta: float

    @classmethod
    def householder(cls, k: np.ndarray, beta: float) -> Factor:
        """Symmetric GH factor ``I - beta k k^T / |k|^2``."""
        k = np.asarray(k, dtype=np.float64)
        return cls(k, k, float(beta))

    @classmethod
    def swap(cls, i: int, j: int, n: int) -> Factor:
        """The reflection exchanging e_i and e_j: ``I - 2 v v^T``, v = (e_i - e_j)/sqrt 2 (P1 Prop 1b)."""
        d = np.zeros(n)
        d[i], d[j] = 1.0, -1.0
        return cls(d, d, 2.0)

    @classmethod
    def collapse(cls, i: int, j: int, n: int) -> Factor:
        """``I - (e_i - e_j) e_i^T``: sends e_i to e_j, fixes every other basis vector."""
        u, w = np.zeros(n), np.zeros(n)
        u[i], u[j], w[i] = 1.0, -1.0, 1.0
        return cls(u, w, 1.0)

    @classmethod
    def projection(cls, i: int, n: int) -> Factor:
        """``I - e_i e_i^T`` (beta = 1): zeroes coordinate i."""
        e = np.zeros(n)
        e[i] = 1.0
        return cls(e, e, 1.0)

    @property
    def n(self) -> int:
        return len(self.u)

    @property
    def coefficient(self) -> float:
        """beta / (w^T u): the scalar multiplying u w^T."""
        return self.beta / float(self.w @ self.u)

    @property
    def symmetric(self) -> bool:
        return bool(np.array_equal(self.u, self.w))

    @property
    def key(self) -> np.ndarray:
        """Unit key k of a symmetric factor (``I - beta k k^T``)."""
        return self.u / np.linalg.norm(self.u)

    def matrix(self, exact: bool = False) -> np.ndarray:
        """Dense (n, n) matrix; ``exact=True`` gives an object array of Fractions of the stored floats."""
        if not exact:
            return np.eye(self.n) - self.coefficient * np.outer(self.u, self.w)
        u = [Fraction(x) for x in self.u]
        w = [Fraction(x) for x in self.w]
        c = Fraction(self.beta) / sum(a * b for a, b in zip(w, u))
        return np.array([[Fraction(int(r == s)) - c * u[r] * w[s] for s in range(self.n)]
                         for r in range(self.n)], dtype=object)


def product_matrix(factors: Sequence[Factor], n: int, exact: bool = False) -> np.ndarray:
    """``F_m ... F_1`` for factors listed in application order (F_1 applied first)."""
    m = np.array([[Fraction(int(r == s)) for s in range(n)] for r in range(n)], dtype=object) if exact else np.eye(n)
    for f in factors:
        m = f.matrix(exact) @ m
    return m


@dataclass(frozen=True)
class Layer:
    """One layer of explicit weights.

    Attributes:
        factors: per layer symbol s, the factors of A(s) in application order.
        write: (S, n, V) additive term B(s).
        h0: (n, V) initial state H_0.
        codebook: (C, n, V) reference states; the layer's decoded state is the nearest one's index.
        route: layer symbol from the letter and the lower layers' codes before the letter: layer 0
            int64 (n_letters,); layer i > 0 int64 (n_letters, P_i), column = the id of the lower
            codes' tuple in the model's CodeIndex.
    """

    factors: tuple[tuple[Factor, ...], ...]
    write: np.ndarray
    h0: np.ndarray
    codebook: np.ndarray
    route: np.ndarray

    @property
    def width(self) -> int:
        return int(self.h0.shape[0])

    @property
    def n_symbols(self) -> int:
        return len(self.factors)

    @property
    def n_codes(self) -> int:
        return int(self.codebook.shape[0])

    def factors_per_symbol(self) -> list[int]:
        return [len(fs) for fs in self.factors]

    def symbols(self, letters: np.ndarray, prefix: np.ndarray | None = None) -> np.ndarray:
        """Layer symbols for letters (N,) and the lower codes' prefix ids (N,) (stored ids only)."""
        return self.route[letters] if self.route.ndim == 1 else self.route[letters, prefix]

    def transition(self, s: int, exact: bool = False) -> np.ndarray:
        """A(s) as a dense (n, n) matrix (exact Fractions with ``exact=True``)."""
        return product_matrix(self.factors[s], self.width, exact)

    def packed(self) -> dict[str, np.ndarray]:
        """Factors as padded arrays: u, w (S, F, n); coef, beta (S, F); padding has coef 0."""
        S, F, n = self.n_symbols, max([1, *self.factors_per_symbol()]), self.width
        u, w = np.zeros((S, F, n)), np.zeros((S, F, n))
        coef, beta = np.zeros((S, F)), np.zeros((S, F))
        for s, fs in enumerate(self.factors):
            for f, fac in enumerate(fs):
                u[s, f], w[s, f], coef[s, f], beta[s, f] = fac.u, fac.w, fac.coefficient, fac.beta
        return {"u": u, "w": w, "coef": coef, "beta": beta,
                "n_factors": np.array(self.factors_per_symbol(), dtype=np.int64)}


@dataclass(frozen=True)
class LRNNWeights:
    """A compiled model: layers plus the map from decoded codes to the source automaton's states.

    Attributes:
        alphabet: the input symbols (letter index = position).
        layers: the layers, lowest first.
        state_map: int64 (P_L,): automaton state of each stored tuple of codes (by its index id).
        accepting: bool (n_automaton_states,).
        construction: the construction's name (``group``, ``direct``, ...).
        source: JSON-ready description of the source automaton (``{"kind": "dfa", "dfa": ...}`` or
            ``{"kind": "group", "name": "S5"}``).
        state_labels: display names of the automaton states (group elements' tokens), or None.
        info: JSON-ready extra facts recorded by the construction.
        index: the stored tuples of layer codes; None means every tuple (CodeIndex.full), which is
            what single-layer models use (then route (n_letters,) and state_map (C_0,)).
    """

    alphabet: tuple[str, ...]
    layers: tuple[Layer, ...]
    state_map: np.ndarray
    accepting: np.ndarray
    construction: str
    source: dict
    state_labels: tuple[str, ...] | None = None
    info: dict = field(default_factory=dict)
    index: CodeIndex | None = None

    def __post_init__(self) -> None:
        if self.index is None:
            object.__setattr__(self, "index", CodeIndex.full([layer.n_codes for layer in self.layers]))
        counts = self.index.counts
        if self.index.widths != tuple(layer.n_codes for layer in self.layers):
            raise ValueError(f"the code index has widths {list(self.index.widths)}, the layers "
                             f"{[layer.n_codes for layer in self.layers]} codes")
        for i, layer in enumerate(self.layers):
            want = (len(self.alphabet),) if i == 0 else (len(self.alphabet), counts[i])
            if layer.route.shape != want:
                raise ValueError(f"layer {i} route has shape {layer.route.shape}, expected {want}")
        if np.shape(self.state_map) != (counts[-1],):
            raise ValueError(f"state_map has shape {np.shape(self.state_map)}, expected {(counts[-1],)}")

    # ------------------------------------------------------------------ facts
    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def summary(self) -> dict:
        """Sizes: layers, widths, total factors, max factors per letter (the DeltaProduct n_h)."""
        per_layer = [layer.factors_per_symbol() for layer in self.layers]
        all_factors = [f for layer in self.layers for fs in layer.factors for f in fs]
        return {
            "construction": self.construction,
            "layers": self.n_layers,
            "widths": [layer.width for layer in self.layers],
            "state_columns": [int(layer.h0.shape[1]) for layer in self.layers],
            "layer_symbols": [layer.n_symbols for layer in self.layers],
            "total_factors": int(sum(map(sum, per_layer))),
            "max_factors_per_symbol": int(max((max(p, default=0) for p in per_layer), default=0)),
            "symmetric_only": all(f.symmetric for f in all_factors),
            "betas": sorted({float(f.beta) for f in all_factors}),
            **self.info,
        }

    def stored_entries(self) -> dict:
        """Table entries held (routes, index keys, state map) beside the dense count over every tuple."""
        m, counts = len(self.alphabet), self.index.counts
        routes = sum(int(layer.route.size) for layer in self.layers)
        dense, prefix = 0, 1
        for layer in self.layers:
            dense += m * prefix
            prefix *= layer.n_codes
        return {"routes": routes, "index_keys": self.index.stored_entries, "state_map": counts[-1],
                "total": routes + self.index.stored_entries + counts[-1], "dense": dense + prefix}

    def automaton_states(self, codes: Sequence[np.ndarray], what: str = "state map") -> np.ndarray:
        """Automaton state for each tuple of layer codes (one array per layer, equal shapes);
        UnreachableConfigurationError for a tuple the index does not hold."""
        ids = self.index.require(self.index.locate(codes), codes, what)
        return self.state_map[ids]

    @property
    def is_group(self) -> bool:
        return self.source.get("kind") == "group"

    # ------------------------------------------------------------------ running
    def simulator(self, dtype: str = "float64"):
        """A batched step-by-step runner in the given float format (see engine.Simulator)."""
        from statetrack.constructions.engine import Simulator

        return Simulator(self, dtype=dtype)

    def encode(self, word) -> np.ndarray:
        from statetrack.automata.dfa import _show_alphabet
        from statetrack.errors import AlphabetError

        index = {s: i for i, s in enumerate(self.alphabet)}
        try:
            return np.array([index[s] for s in word], dtype=np.int64)
        except KeyError as e:
            if self.is_group:
                from statetrack.errors import GroupError

                raise GroupError(f"token {e.args[0]!r} is not an element of {self.source.get('name')}") from None
            raise AlphabetError(f"symbol {e.args[0]!r} is not in the alphabet {_show_alphabet(self.alphabet)}") from None

    def run_states(self, words: Sequence, dtype: str = "float64") -> list[int]:
        """Decoded automaton state after each word (words: a list of str or of sequences of symbols).

        One string is refused (ArgumentError), not read as one word per character."""
        if isinstance(words, (str, bytes)):
            from statetrack.errors import ArgumentError

            raise ArgumentError(f"expected a list of words, got the string {words!r}; "
                                f"for one word pass [{words!r}]")
        return self.run_encoded([self.encode(w) for w in words], dtype).tolist()

    def run_encoded(self, words: Sequence[np.ndarray], dtype: str = "float64") -> np.ndarray:
        """Decoded automaton state (N,) for encoded words, run in batches of equal length."""
        sim = self.simulator(dtype)
        out = np.empty(len(words), dtype=np.int64)
        by_len: dict[int, list[int]] = {}
        for i, w in enumerate(words):
            by_len.setdefault(len(w), []).append(i)
        for length, idx in by_len.items():
            out[idx] = sim.run(np.array([words[i] for i in idx], dtype=np.int64).reshape(len(idx), length))
        return out

    def accepts(self, words: Sequence, dtype: str = "float64") -> list[bool]:
        """Accept/reject per word, read off the decoded state."""
        return [bool(self.accepting[q]) for q in self.run_states(words, dtype)]

    def run(self, tokens: Sequence[str], dtype: str = "float64") -> str:
        """Decoded state label after the tokens (a group model: the running product, one-line)."""
        q = self.run_states([tokens], dtype)[0]
        return self.state_labels[q] if self.state_labels else str(q)

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> None:
        """Write one safetensors file (tensors + JSON metadata), atomically."""
        from safetensors.numpy import save

        tensors = {"state_map": self.state_map.astype(np.int64), "accepting": self.accepting.astype(np.int64)}
        for i, layer in enumerate(self.layers):
            p = layer.packed()
            for name in ("u", "w", "beta", "n_factors"):
                tensors[f"layer{i}.{name}"] = p[name]
            tensors[f"layer{i}.write"] = layer.write.astype(np.float64)
            tensors[f"layer{i}.h0"] = layer.h0.astype(np.float64)
            tensors[f"layer{i}.codebook"] = layer.codebook.astype(np.float64)
            tensors[f"layer{i}.route"] = layer.route.astype(np.int64)
            tensors[f"index.keys{i}"] = self.index.keys[i].astype(np.int64)
        from statetrack.version import __version__

        meta = {"format": FORMAT_VERSION, "statetrack_version": __version__,
                "construction": self.construction, "alphabet": list(self.alphabet),
                "source": self.source, "state_labels": list(self.state_labels) if self.state_labels else None,
                "info": self.info, "summary": self.summary()}
        data = save({k: np.ascontiguousarray(v) for k, v in tensors.items()},
                    metadata={_META_KEY: json.dumps(meta)})
        atomic_write_bytes(Path(path), data)


def load(path: str | Path) -> LRNNWeights:
    """Read weights written by :meth:`LRNNWeights.save`; WeightsFileError names any problem."""
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise WeightsFileError(f"cannot read weights file {str(p)!r}: {e.strerror}") from None
    try:
        tensors = st_load(raw)
        meta_json = _read_metadata(raw)
    except (SafetensorError, ValueError, OverflowError, UnicodeDecodeError) as e:
        raise WeightsFileError(f"{p} is not a readable safetensors file ({str(e).splitlines()[0][:120]})") from None
    if meta_json is None:
        raise WeightsFileError(f"{p} holds no statetrack metadata (not written by statetrack compile)")
    try:
        meta = json.loads(meta_json)
        return _from_parts(tensors, meta)
    except (KeyError, ValueError, TypeError, IndexError) as e:
        raise WeightsFileError(f"{p} is corrupt: {type(e).__name__} {e}".strip()) from None


def _read_metadata(raw: bytes) -> str | None:
    import struct

    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    return (header.get("__metadata__") or {}).get(_META_KEY)


def _from_parts(t: dict[str, np.ndarray], meta: dict) -> LRNNWeights:
    if meta.get("format") != FORMAT_VERSION:
        old = " (dense route tables, written by an older statetrack: compile it again)" \
            if meta.get("format") == 1 else ""
        raise ValueError(f"format {meta.get('format')!r}{old}; this statetrack reads format {FORMAT_VERSION}")
    n_layers = len(meta["summary"]["widths"])
    alphabet = tuple(meta["alphabet"])
    index = CodeIndex(tuple(int(t[f"layer{i}.codebook"].shape[0]) for i in range(n_layers)),
                      tuple(t[f"index.keys{i}"] for i in range(n_layers)))
    counts = index.counts
    layers = []
    for i in range(n_layers):
        u, w, beta, nf = (t[f"layer{i}.{k}"] for k in ("u", "w", "beta", "n_factors"))
        S = u.shape[0]
        if w.shape != u.shape or beta.shape != u.shape[:2] or nf.shape != (S,) or np.any(nf > u.shape[1]):
            raise ValueError(f"layer {i} factor arrays disagree in shape")
        factors = tuple(tuple(Factor(u[s, f].copy(), w[s, f].copy(), float(beta[s, f])) for f in range(int(nf[s])))
                        for s in range(S))
        for s, fs in enumerate(factors):
            for f, fac in enumerate(fs):
                if not np.isfinite(fac.u).all() or not np.isfinite(fac.w).all() or not np.isfinite(fac.beta) \
                        or float(fac.w @ fac.u) == 0.0:
                    raise ValueError(f"layer {i} symbol {s} factor {f} is not a valid factor")
        layer = Layer(factors, t[f"layer{i}.write"], t[f"layer{i}.h0"], t[f"layer{i}.codebook"], t[f"layer{i}.route"])
        n, V = layer.h0.shape
        if layer.write.shape != (S, n, V) or layer.codebook.shape[1:] != (n, V) or u.shape[2] != n:
            raise ValueError(f"layer {i} state shapes disagree")
        if layer.route.shape != ((len(alphabet),) if i == 0 else (len(alphabet), counts[i])) \
                or layer.route.min() < 0 or layer.route.max() >= S:
            raise ValueError(f"layer {i} route table is inconsistent")
        for arr in (layer.write, layer.h0, layer.codebook):
            if not np.isfinite(arr).all():
                raise ValueError(f"layer {i} holds NaN or inf")
        layers.append(layer)
    state_map, accepting = t["state_map"], t["accepting"].astype(bool)
    if state_map.shape != (counts[-1],) or state_map.min() < 0 or state_map.max() >= len(accepting):
        raise ValueError("state_map does not match the layers' codebooks")
    labels = meta.get("state_labels")
    return LRNNWeights(alphabet=alphabet, layers=tuple(layers), state_map=state_map, accepting=accepting,
                       construction=meta["construction"], source=meta["source"],
                       state_labels=tuple(labels) if labels else None, info=meta.get("info", {}), index=index)
