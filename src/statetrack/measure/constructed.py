"""The constructed side of a report: what explicit weights do on a task, as a results file.

    results = analyze(weights, make_task("counting_mod3"), train_max_len=40)
    write_results(Path("runs/mod3_rotation/results.json"), results)

The report renders only JSON, so everything it shows about a construction is measured here, once,
in the same spirit (and where it makes sense the same keys) as a training run's ``results.json``
(:mod:`statetrack.train.results`):

* ``eval``: accuracy at every length 1..test_max_len on the task's own labels (its sampler, its
  automaton), the weights run by :class:`~statetrack.constructions.engine.Simulator` in one float
  format (``dtype``), decoded after every token;
* ``analysis.eigenvalues``: the eigenvalues of each token's transition matrix ``A(s)``, computed
  from the dense float64 product of its factors (every eigenvalue, with multiplicity; a construction
  has no sampled positions, so each token's list is exact up to float64 rounding, e.g. -1 for the
  parity token (P1 Thm 1), ``e^{+-2 pi i/3}`` for the mod-3 rotation (P1 Thm 2));
* ``analysis.probes``: the construction's own linear read-out (nearest codeword, i.e. argmax of
  ``<H, C_c> - |C_c|^2 / 2``) scored against the true state of the source automaton per length;
* ``analysis.state_norms``: ``||H||_F`` per layer up to ``norm_length_factor x train_max_len`` in
  each float format, its distance from the float64 run (finite-precision drift) and the fraction
  of words decoded wrongly, at every length;
* ``analysis.size``: layers, widths, factors per token (the DeltaProduct ``n_h``), stored numbers;
* ``verify``: :func:`statetrack.verify.check` per format (every short word, long random words).

Tasks are matched to weights through the alphabet (every task token must be a letter of the
weights) and through the product of the two automata: each reachable state of the weights' source
automaton must determine the task's label, else :class:`ReportError` says which state does not.

Schema ``statetrack.constructed.results/1``: the training schema's ``task``, ``eval``,
``analysis.{eigenvalues,probes,state_norms,size}`` keys with the same meaning, plus ``kind =
"constructed"``, ``construction`` (the weights' ``summary()``), ``verify`` and per-format drift
under ``analysis.state_norms.by_dtype``.
"""
from __future__ import annotations

import math
import time
from collections import deque
from fractions import Fraction

import numpy as np

from statetrack.errors import ReportError

SCHEMA = "statetrack.constructed.results/1"
KIND = "constructed"
# the same offsets as a training run's evaluation and analysis: same words for the same seed
from statetrack.seeds import ANALYSIS_SEED_OFFSET as NORM_SEED_OFFSET  # noqa: E402
from statetrack.seeds import EVAL_SEED_OFFSET  # noqa: E402

#: task name -> construction used when none is named (others: statetrack.constructions' default)
DEFAULT_CONSTRUCTION = {
    "parity": "group",            # one reflection (P1 Thm 3)
    "counting": "rotation",       # a 2x2 rotation = two reflections (P1 Thm 2, App. C.1)
    "cycle_navigation": "rotation",
    "word_problem": "group",      # one layer of swaps (P1 Thm 3; P2 n_h = n - 1)
}


# ---------------------------------------------------------------------- binding weights to a task
def weights_for_task(task, construction: str | None = None):
    """Compile the construction of ``task``'s automaton (word problems: of the group itself)."""
    from statetrack.constructions import compile as compile_weights

    name = construction or DEFAULT_CONSTRUCTION.get(task.name)
    if task.name == "word_problem":
        return compile_weights(task.g, name)
    return compile_weights(task.automaton(), name)


class Binding:
    """How a task's tokens and labels map onto weights.

    Attributes:
        letters: int64 (vocab,): the weights' letter index of each task token.
        dfa: the weights' source automaton (:func:`statetrack.verify.source_automaton`).
        label_of_source: int64 (dfa.n_states,): the task label a source state stands for (-1: none
            reachable, or only at unlabeled positions).
    """

    def __init__(self, weights, task):
        from statetrack.verify import source_automaton

        index = {s: i for i, s in enumerate(weights.alphabet)}
        missing = [t for t in task.tokens if t not in index]
        if missing:
            raise ReportError(f"task {task.name} token {missing[0]!r} is not a letter of the weights "
                              f"(construction {weights.construction}, alphabet of {len(index)} letters)")
        self.letters = np.array([index[t] for t in task.tokens], dtype=np.int64)
        self.dfa = source_automaton(weights)
        self.label_of_source = self._labels(task)

    def _labels(self, task) -> np.ndarray:
        """Walk the product of the source automaton and the task automaton from both starts."""
        tdfa = task.automaton()
        tlab = np.asarray(task.label_of_state)
        src = self.dfa.table
        out = np.full(self.dfa.n_states, -1, dtype=np.int64)
        seen = {(self.dfa.start, tdfa.start)}
        todo = deque(seen)
        while todo:
            p, q = todo.popleft()
            lab = int(tlab[q])
            if lab >= 0:
                if out[p] >= 0 and out[p] != lab:
                    raise ReportError(f"the weights' automaton state {self.dfa.label(p)!r} stands for task "
                                      f"{task.name} labels {task.classes[out[p]]!r} and {task.classes[lab]!r}: "
                                      "these weights do not compute this task")
                out[p] = lab
            for t, letter in enumerate(self.letters):
                nxt = (int(src[p, letter]), int(tdfa.table[q, t]))
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return out

    def true_states(self, tokens: np.ndarray) -> np.ndarray:
        """Source-automaton state after each prefix: tokens (N, T) task indices -> int64 (N, T)."""
        return self.dfa.trajectory(self.letters[tokens])[:, 1:]


def decoded_states(sim, letters: np.ndarray) -> np.ndarray:
    """Decoded source-automaton state after each prefix: letters (N, T) -> int64 (N, T)."""
    N, T = letters.shape
    state = sim.init(N)
    out = np.empty((N, T), dtype=np.int64)
    for t in range(T):
        state = sim.step(state, letters[:, t])
        out[:, t] = sim.automaton_states(state)
    return out


# ---------------------------------------------------------------------- measurements
def evaluate(weights, task, binding: Binding, *, max_len: int, n_samples: int, seed: int, dtype: str,
             test_range: tuple[int, int]) -> tuple[dict, dict]:
    """Accuracy per length (the training ``eval`` keys) and the read-out's state accuracy per length.

    Both come from one batch of ``n_samples`` words of length ``max_len`` (the tasks are
    prefix-closed, as in :mod:`statetrack.train.evaluate`).
    """
    import torch

    from statetrack.constructions.engine import Simulator
    from statetrack.train.evaluate import scaled

    gen = torch.Generator().manual_seed(seed + EVAL_SEED_OFFSET)
    x, y, m = (t.numpy() for t in task.eval_batch(n_samples, max_len, gen))        # (N, T) each
    decoded = decoded_states(Simulator(weights, dtype), binding.letters[x])          # (N, T)
    pred = binding.label_of_source[decoded]
    ok = (pred == y) | ~m
    hit = (pred == y) & m
    labeled = m.sum(0)
    seq_ok = np.cumprod(ok, axis=1).sum(0)
    acc = [None if labeled[i] == 0 else float(hit[:, i].sum() / labeled[i]) for i in range(max_len)]
    seq = [None if labeled[i] == 0 else float(seq_ok[i] / n_samples) for i in range(max_len)]
    chance = task.chance
    curve = {"lengths": list(range(1, max_len + 1)), "accuracy": acc,
             "scaled_accuracy": [scaled(a, chance) for a in acc], "sequence_accuracy": seq,
             "n": [int(v) for v in labeled], "chance": chance}
    truth = binding.true_states(x)
    state_acc = np.array([_sig(a) for a in (decoded == truth).mean(0)])
    lo, hi = test_range
    probes = {"target": "source automaton state", "readout": "codebook (nearest codeword: a fixed linear read-out)",
              "n_states": binding.dfa.n_states, "fit_length": None, "n_fit": 0, "n_test": n_samples,
              "chance": 1.0 / binding.dfa.n_states, "lengths": list(range(1, max_len + 1)), "dtype": dtype,
              "layers": [{"layer": "all", "train_accuracy": None, "accuracy": state_acc.tolist(),
                          "test_range_accuracy": float(state_acc[lo - 1:hi].mean())}]}
    return curve, probes


def _pretty_eigenvalue(z: complex, tol: float = 1e-9) -> str:
    """A short exact-looking name: 1, -1, 0, e^{+2pi i/3}, or the rounded number."""
    if abs(z.imag) < tol:
        for v, name in ((1.0, "1"), (-1.0, "-1"), (0.0, "0")):
            if abs(z.real - v) < tol:
                return name
    r = abs(z)
    if abs(r - 1) < tol:
        turn = Fraction(math.atan2(z.imag, z.real) / (2 * math.pi)).limit_denominator(60)
        if abs(float(turn) * 2 * math.pi - math.atan2(z.imag, z.real)) < 1e-7:
            sign = "-" if turn < 0 else "+"
            t = abs(turn)
            frac = "" if t.denominator == 1 and t.numerator == 1 else (
                f"/{t.denominator}" if t.numerator == 1 else f"*{t.numerator}/{t.denominator}")
            return f"e^({sign}2pi i{frac})"
    return f"{z.real:.4g}{z.imag:+.4g}i" if abs(z.imag) >= tol else f"{z.real:.4g}"


def _clean(v: np.ndarray, nd: int = 12) -> list[float]:
    out = np.round(np.asarray(v, dtype=np.float64), nd) + 0.0        # + 0.0 turns -0.0 into 0.0
    return out.tolist()


def eigenvalues(weights, task, binding: Binding) -> dict:
    """Every eigenvalue of each token's transition matrix, per layer (the training schema, one head).

    Layer i > 0 reads a symbol that depends on the lower layers' codes too; a token's entry there
    lists the eigenvalues of every symbol it can map to (``symbols``: how many distinct ones).
    """
    layers = []
    for li, layer in enumerate(weights.layers):
        cache: dict[int, np.ndarray] = {}

        def eig(s: int) -> np.ndarray:
            if s not in cache:
                cache[s] = np.linalg.eigvals(layer.transition(s)) if layer.width else np.zeros(0, complex)
            return cache[s]

        per_token, pretty = {}, {}
        all_vals = []
        for tok, letter in zip(task.tokens, binding.letters):
            symbols = np.unique(layer.route[letter])
            vals = np.concatenate([eig(int(s)) for s in symbols]).astype(np.complex128)
            vals = vals[np.lexsort((vals.imag, vals.real))]
            all_vals.append(vals)
            per_token[tok] = {"real": _clean(vals.real), "imag": _clean(vals.imag), "symbols": int(len(symbols))}
            names = sorted({_pretty_eigenvalue(complex(z)) for z in vals})
            pretty[tok] = names
        allv = np.concatenate(all_vals) if all_vals else np.zeros(0, complex)
        head = {"head": 0, "min_real": float(allv.real.min()), "max_real": float(allv.real.max()),
                "max_abs_imag": float(np.abs(allv.imag).max()), "frac_negative_real": float((allv.real < -1e-12).mean()),
                "max_abs": float(np.abs(allv).max()), "per_token": per_token, "pretty": pretty}
        layers.append({"layer": li, "width": layer.width, "heads": [head]})
    return {"kind": "exact_transition", "source": "dense float64 product of each symbol's factors",
            "tokens_sampled": len(task.tokens), "layers": layers}


def state_norms(weights, task, binding: Binding, *, max_length: int, train_max_len: int, n_seq: int,
                dtypes: tuple[str, ...], eval_dtype: str, seed: int) -> dict:
    """State norm, drift from float64 and decoding errors at every length 1..max_length, per format."""
    import torch

    from statetrack.constructions.engine import Simulator

    gen = torch.Generator().manual_seed(seed + NORM_SEED_OFFSET)
    x, _, _ = task.sample_batch(n_seq, max_length, gen)
    letters = binding.letters[x.numpy()]                                                   # (N, T)
    truth = binding.true_states(x.numpy())
    formats = ["float64"] + [d for d in dtypes if d != "float64"]
    sims = {d: Simulator(weights, d) for d in formats}
    states = {d: s.init(n_seq) for d, s in sims.items()}
    rec = {d: {"layers": [{"layer": i, "mean": [], "std": [], "max": [], "dev_mean": [], "dev_max": []}
                          for i in range(weights.n_layers)], "decode_error": []} for d in formats}
    for t in range(max_length):
        for d, sim in sims.items():
            states[d] = sim.step(states[d], letters[:, t])
        ref = states["float64"]
        for d, sim in sims.items():
            r = rec[d]
            for li, (h, h64) in enumerate(zip(states[d], ref)):
                norms = np.linalg.norm(h.reshape(n_seq, -1).astype(np.float64), axis=1)          # (N,)
                dev = np.linalg.norm((h.astype(np.float64) - h64).reshape(n_seq, -1), axis=1)    # (N,)
                lay = r["layers"][li]
                lay["mean"].append(_sig(norms.mean()))
                lay["std"].append(_sig(norms.std(ddof=1)) if n_seq > 1 else 0.0)
                lay["max"].append(_sig(norms.max()))
                lay["dev_mean"].append(_sig(dev.mean()))
                lay["dev_max"].append(_sig(dev.max()))
            r["decode_error"].append(float((sim.automaton_states(states[d]) != truth[:, t]).mean()))
    main = rec[eval_dtype] if eval_dtype in rec else rec["float64"]
    return {"lengths": list(range(1, max_length + 1)), "train_max_len": train_max_len, "sequences": n_seq,
            "dtype": eval_dtype,
            "layers": [{k: lay[k] for k in ("layer", "mean", "std", "max")} for lay in main["layers"]],
            "by_dtype": rec}


def _sig(v, digits: int = 5) -> float:
    """A float rounded to a few significant digits (keeps per-length lists small in JSON)."""
    return float(f"{float(v):.{digits}g}")


def size(weights, task, binding: Binding) -> dict:
    """Layers, widths, factors per token and the count of stored numbers of the transitions."""
    s = weights.summary()
    per_token = {}
    for tok, letter in zip(task.tokens, binding.letters):
        per_token[tok] = [int(max(len(layer.factors[int(sym)]) for sym in np.unique(layer.route[letter])))
                          for layer in weights.layers]
    numbers = 0
    for layer in weights.layers:
        n = layer.width
        numbers += sum(len(fs) for fs in layer.factors) * (2 * n + 1) + int(np.count_nonzero(layer.write))
    return {"layers": weights.n_layers, "widths": s["widths"], "state_columns": s["state_columns"],
            "state_size": int(sum(layer.h0.size for layer in weights.layers)),
            "layer_symbols": s["layer_symbols"], "n_h": int(max((max(v) for v in per_token.values()), default=0)),
            "factors_per_token": per_token, "total_factors": s["total_factors"], "params": int(numbers),
            "params_note": "numbers stored in the factors (u, w, beta per factor) and nonzero writes B(s)",
            "symmetric_only": s["symmetric_only"], "betas": s["betas"]}


def verify_formats(weights, dtypes: tuple[str, ...], *, long_len: int, long_words: int, seed: int,
                   max_words: int = 20_000) -> dict:
    """:func:`statetrack.verify.check` per format, with the longest exhaustive length under ``max_words``."""
    from statetrack.verify import check, exhaustive_words, source_automaton

    dfa = source_automaton(weights)
    L = 0
    while exhaustive_words(dfa.n_symbols, L + 1) <= max_words and L < 24:
        L += 1
    reports = check(weights, L, dtypes, long_words=long_words, long_len=long_len, seed=seed, dfa=dfa)
    return {r.dtype: r.to_json() for r in reports}


# ---------------------------------------------------------------------- the whole file
def analyze(weights, task, *, train_min_len: int = 3, train_max_len: int = 40, test_min_len: int = 40,
            test_max_len: int = 256, eval_samples: int = 512, dtype: str = "float32",
            norm_dtypes: tuple[str, ...] = ("float32", "bfloat16", "float16"), norm_length_factor: int = 10,
            norm_sequences: int = 32, verify_len: int = 10_000, verify_words: int = 16, seed: int = 0,
            weights_file: str | None = None) -> dict:
    """The ``results.json`` of a construction on a task (schema in the module docstring)."""
    from statetrack.constructions.engine import DTYPES
    from statetrack.train.evaluate import range_summary
    from statetrack.provenance import provenance

    for d in (dtype, *norm_dtypes):
        if d not in DTYPES:
            raise ReportError(f"unknown float format {d!r}; choose from {', '.join(DTYPES)}")
    for name, v in (("train_min_len", train_min_len), ("train_max_len", train_max_len),
                    ("test_min_len", test_min_len), ("test_max_len", test_max_len), ("eval_samples", eval_samples),
                    ("norm_length_factor", norm_length_factor), ("norm_sequences", norm_sequences)):
        if not isinstance(v, int) or v < 1:
            raise ReportError(f"{name} must be a positive integer, got {v!r}")
    if train_min_len > train_max_len or test_min_len > test_max_len:
        raise ReportError("a length range has its minimum above its maximum")
    t0 = time.perf_counter()
    binding = Binding(weights, task)
    curve, probes = evaluate(weights, task, binding, max_len=test_max_len, n_samples=eval_samples, seed=seed,
                             dtype=dtype, test_range=(test_min_len, test_max_len))
    curve["train_range"] = range_summary(curve, train_min_len, train_max_len)
    curve["test_range"] = range_summary(curve, test_min_len, test_max_len)
    analysis = {
        "size": size(weights, task, binding),
        "eigenvalues": eigenvalues(weights, task, binding),
        "probes": probes,
        "state_norms": state_norms(weights, task, binding, max_length=norm_length_factor * train_max_len,
                                   train_max_len=train_max_len, n_seq=norm_sequences, dtypes=tuple(norm_dtypes),
                                   eval_dtype=dtype, seed=seed),
    }
    verify = verify_formats(weights, tuple(dict.fromkeys((dtype, *norm_dtypes))), long_len=verify_len,
                            long_words=verify_words, seed=seed) if verify_len else None
    summary = weights.summary()
    return {
        "schema": SCHEMA, "kind": KIND, "status": "completed",
        "config": {"construction": weights.construction, "weights_file": weights_file, "train_min_len": train_min_len,
                   "train_max_len": train_max_len, "test_min_len": test_min_len, "test_max_len": test_max_len,
                   "eval_samples": eval_samples, "dtype": dtype, "norm_dtypes": list(norm_dtypes),
                   "norm_length_factor": norm_length_factor, "norm_sequences": norm_sequences,
                   "verify_len": verify_len, "verify_words": verify_words, "seed": seed},
        "task": task.describe(),
        "model": {"kind": KIND, "construction": weights.construction, "eig_range": _eig_range(summary),
                  "n_layers": weights.n_layers},
        "construction": summary, "source": weights.source,
        **provenance(seed=seed, dtype=dtype, backend="numpy"),
        "eval": curve, "analysis": analysis, "verify": verify,
        "wall_time_s": time.perf_counter() - t0,
    }


def _eig_range(summary: dict) -> str:
    """The GH range the factors need: betas in [0, 1] -> "0,1", up to 2 -> "-1,1" (P1 Prop 1)."""
    betas = summary.get("betas") or [0.0]
    return "0,1" if max(betas) <= 1 else "-1,1"
