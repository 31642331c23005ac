"""What a trained model learned: transition eigenvalues, linear probes, state norms, size.

Each function returns a JSON-ready dict; :func:`analyze` gathers them into the ``analysis``
section of ``results.json`` (schema in :mod:`statetrack.train.results`). All randomness comes
from a generator seeded from the run's seed, so the analysis of a run is reproducible.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from statetrack.models.mixers import Diagonal

from statetrack.seeds import ANALYSIS_SEED_OFFSET  # noqa: E402  (statetrack.seeds)


def _r(x, nd: int = 6) -> list:
    return np.round(np.asarray(x, dtype=np.float64), nd).tolist()


@torch.no_grad()
def eigenvalues(model, task, *, length: int, n_seq: int = 32, per_token: int = 8, max_tokens: int = 32,
                generator: torch.Generator, device) -> dict:
    """Eigenvalues of each token's transition per layer and head, over a held-out batch.

    DeltaNet/DeltaProduct: the transition at a position is the product of its n_h GH factors
    ``I - beta k k^T``; its K - n_h eigenvalues equal to 1 are dropped and the n_h others (furthest
    from 1) kept. Diagonal: the K decays ``a`` themselves (real).
    """
    x, _, _ = task.sample_batch(n_seq, length, generator)
    inputs = model.mixer_inputs(x.to(device))
    layers = []
    kind = "diagonal" if isinstance(model.blocks[0].mixer, Diagonal) else "householder_product"
    for li, (block, inp) in enumerate(zip(model.blocks, inputs)):
        mixer = block.mixer
        if isinstance(mixer, Diagonal):
            ev = mixer.transition_eigenvalues(inp.float()).cpu().to(torch.complex128)     # (B, T, H, K)
        else:
            A = mixer.transition_matrices(inp.float()).cpu()                               # (B, T, H, K, K)
            ev = torch.linalg.eigvals(A)                                                  # (B, T, H, K)
            far = (ev - 1).abs().argsort(dim=-1, descending=True)[..., :mixer.n_h]
            ev = ev.gather(-1, far)                                                       # (B, T, H, n_h)
        heads = []
        for h in range(ev.shape[2]):
            e = ev[:, :, h]                                                               # (B, T, n)
            re, im = e.real, e.imag
            entry = {"head": h, "min_real": float(re.min()), "max_real": float(re.max()),
                     "max_abs_imag": float(im.abs().max()), "frac_negative_real": float((re < 0).double().mean()),
                     "per_token": {}}
            for tok in range(min(task.vocab_size, max_tokens)):
                pos = (x == tok).nonzero()
                if len(pos) == 0:
                    continue
                pick = pos[torch.randperm(len(pos), generator=generator)[:per_token]]
                vals = e[pick[:, 0], pick[:, 1]].reshape(-1)
                # 4 decimals, and no imaginary parts where all are 0 (symmetric factors, diagonal decays):
                # this sample was most of a protocol bundle's size
                sample = {"real": _r(vals.real, 4)}
                if bool((vals.imag != 0).any()):
                    sample["imag"] = _r(vals.imag, 4)
                entry["per_token"][task.tokens[tok]] = sample
            heads.append(entry)
        layers.append({"layer": li, "heads": heads})
    return {"kind": kind, "sequences": n_seq, "length": length, "positions_per_token": per_token,
            "tokens_sampled": min(task.vocab_size, max_tokens), "layers": layers}


def _ridge(X: torch.Tensor, Y: torch.Tensor, lam: float = 1e-3) -> torch.Tensor:
    """Least squares with a small ridge: X (N, D) float64, Y (N, C) -> W (D, C)."""
    D = X.shape[1]
    G = X.T @ X
    reg = lam * (torch.trace(G) / D + 1e-12)
    return torch.linalg.solve(G + reg * torch.eye(D, dtype=X.dtype), X.T @ Y)


@torch.no_grad()
def probes(model, task, *, fit_length: int, test_length: int, n_fit: int = 512, n_test: int = 256,
           generator: torch.Generator, device, test_range: tuple[int, int]) -> dict:
    """Linear probes from each block's output (the residual stream) to the true automaton state.

    Fit (ridge regression onto one-hot states, argmax read-out) on words of the training lengths
    (every position of length-``fit_length`` words); scored at every position of length-
    ``test_length`` words, i.e. at every length 1..test_length.
    """
    n_states = task.n_states

    def features(n: int, length: int):
        x, _, _ = task.sample_batch(n, length, generator)
        _, hidden = model(x.to(device), return_hidden=True)
        q = task.states(x)                                                               # (n, T)
        return [h.double().cpu() for h in hidden], q

    fit_h, fit_q = features(n_fit, fit_length)
    test_h, test_q = features(n_test, test_length)
    fit_valid, test_valid = fit_q >= 0, test_q >= 0
    layers = []
    for li, (hf, ht) in enumerate(zip(fit_h, test_h)):
        Xf = torch.cat([hf[fit_valid], torch.ones(int(fit_valid.sum()), 1, dtype=torch.float64)], 1)
        Y = torch.nn.functional.one_hot(fit_q[fit_valid], n_states).double()
        W = _ridge(Xf, Y)
        train_acc = float(((Xf @ W).argmax(-1) == fit_q[fit_valid]).double().mean())
        Xt = torch.cat([ht, torch.ones(*ht.shape[:2], 1, dtype=torch.float64)], -1)     # (n, T, D+1)
        hit = ((Xt @ W).argmax(-1) == test_q) & test_valid
        per_len = [None if test_valid[:, t].sum() == 0 else float(hit[:, t].sum() / test_valid[:, t].sum())
                   for t in range(test_length)]
        lo, hi = test_range
        scored = [a for a in per_len[lo - 1:hi] if a is not None]
        layers.append({"layer": li, "train_accuracy": train_acc, "accuracy": per_len,
                       "test_range_accuracy": float(np.mean(scored)) if scored else None})
    return {"target": "automaton state (task.states)", "n_states": n_states, "fit_length": fit_length,
            "n_fit": n_fit, "n_test": n_test, "lengths": list(range(1, test_length + 1)),
            "chance": 1.0 / n_states, "layers": layers}


@torch.no_grad()
def state_norms(model, task, *, max_length: int, train_max_len: int, n_seq: int = 32,
                generator: torch.Generator, device, points: int = 12) -> dict:
    """Frobenius norm of each layer's recurrent state ``S [K, V]`` per head after L tokens, for L on a
    geometric grid up to ``max_length`` (mean, standard deviation and max over words and heads)."""
    grid = {int(round(math.exp(v))) for v in np.linspace(0.0, math.log(max_length), points)}
    lengths = sorted(grid | {train_max_len, max_length})
    x, _, _ = task.sample_batch(n_seq, max_length, generator)
    x = x.to(device)
    per_layer = [{"mean": [], "std": [], "max": []} for _ in model.blocks]
    for L in lengths:
        for rec, S in zip(per_layer, model.final_states(x[:, :L])):
            norms = S.double().flatten(2).norm(dim=-1)                                   # (B, H)
            rec["mean"].append(float(norms.mean()))
            rec["std"].append(float(norms.std()) if norms.numel() > 1 else 0.0)
            rec["max"].append(float(norms.max()))
    return {"lengths": lengths, "train_max_len": train_max_len, "sequences": n_seq,
            "layers": [{"layer": i, **rec} for i, rec in enumerate(per_layer)]}


def analyze(model, task, cfg, device) -> dict:
    """The ``analysis`` section of results.json (see statetrack.train.results)."""
    gen = torch.Generator().manual_seed(cfg.seed + ANALYSIS_SEED_OFFSET)
    was_training = model.training
    model.eval()
    recurrent = cfg.model.kind != "transformer"        # attention has no transition, no state
    try:
        out = {"size": model.size()}
        if recurrent:
            out["eigenvalues"] = eigenvalues(model, task, length=cfg.train_max_len, generator=gen, device=device)
        if task.n_states is not None:                   # a regular task: its automaton state is the probe target
            out["probes"] = probes(model, task, fit_length=cfg.train_max_len, test_length=cfg.eval_length,
                                   generator=gen, device=device, test_range=(cfg.test_min_len, cfg.test_max_len))
        if recurrent:
            out["state_norms"] = state_norms(model, task, max_length=cfg.norm_length_factor * cfg.train_max_len,
                                             train_max_len=cfg.train_max_len, generator=gen, device=device)
    finally:
        model.train(was_training)
    return out
