"""State abstraction: cluster the hidden states a network reaches, read a machine off the clusters.

The second extraction route of Weiss, Goldberg & Yahav (ICML 2018), in its plain quotient form:

1. run every word of length ``L`` (so every word up to ``L``, as prefixes: the nodes of the
   prefix tree), and take each node's features: one layer's hidden vector, or all layers'
   concatenated (``Network.hidden``; for compiled weights, the codes after each layer's read-out);
2. cluster the features with k-means for growing k (1, 2, 4, ..., then bisection down to the
   smallest k that works);
3. the quotient: state = cluster (the empty word is its own state), the move on letter a from
   cluster i = the cluster most prefix-tree edges ``i --a-->`` land in, the output = the class
   the network gives most nodes of the cluster. k *works* when every edge and every node agrees
   with those majorities (a consistent quotient), which is what an automaton the network really
   implements up to length L must give;
4. minimize the quotient (Moore minimization).

Moves never seen (clusters holding only length-L nodes) go to one extra state with output -1
("unknown"); the result says how many there were.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from statetrack.extract.errors import ExtractionError
from statetrack.extract.moore import Moore
from statetrack.extract.oracles import Network


@dataclass(frozen=True)
class Abstraction:
    """What :func:`abstract` found for one choice of features.

    Attributes:
        features: ``"all layers"`` or ``"layer i"``.
        clusters: the smallest k whose quotient was consistent (None: none up to max_clusters).
        machine: the minimized quotient at that k (at max_clusters when none was consistent).
        consistency: fraction of prefix-tree edges and nodes agreeing with the quotient's majorities.
        unseen_moves: quotient moves that no prefix-tree edge showed.
        length: the word length L used; nodes: prefix-tree nodes clustered.
    """

    features: str
    clusters: int | None
    machine: Moore
    consistency: float
    unseen_moves: int
    length: int
    nodes: int

    def to_json(self) -> dict:
        return {"features": self.features, "clusters": self.clusters, "states": self.machine.n_states,
                "consistency": round(self.consistency, 6), "unseen_moves": self.unseen_moves,
                "length": self.length, "nodes": self.nodes}


def kmeans(x: np.ndarray, k: int, seed: int = 0, iters: int = 50, restarts: int = 3) -> np.ndarray:
    """Cluster ids (N,) of points x (N, D) by Lloyd's algorithm from k-means++ seeds (best of restarts)."""
    n = len(x)
    if k >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    sq = (x * x).sum(1)
    best, best_cost = None, np.inf
    for _ in range(restarts):
        centers = [x[rng.integers(n)]]
        d2 = ((x - centers[0]) ** 2).sum(1)
        for _ in range(1, k):
            p = d2 / d2.sum() if d2.sum() > 0 else None
            centers.append(x[rng.choice(n, p=p)])
            d2 = np.minimum(d2, ((x - centers[-1]) ** 2).sum(1))
        c = np.array(centers)
        for _ in range(iters):
            dist = sq[:, None] - 2 * x @ c.T + (c * c).sum(1)[None, :]                 # (N, k)
            lab = dist.argmin(1)
            new = np.array([x[lab == j].mean(0) if np.any(lab == j) else c[j] for j in range(k)])
            if np.allclose(new, c):
                break
            c = new
        cost = float(dist[np.arange(n), lab].sum())
        if cost < best_cost:
            best, best_cost = lab, cost
    return best


def _majority(keys: np.ndarray, values: np.ndarray, n_keys: int) -> tuple[np.ndarray, int]:
    """Per key 0..n_keys-1 the most common value (-1 if none), and how many pairs disagree with it."""
    pairs, counts = np.unique(np.stack([keys, values], 1), axis=0, return_counts=True)
    major = np.full(n_keys, -1, dtype=np.int64)
    best = np.zeros(n_keys, dtype=np.int64)
    for (k, v), c in zip(pairs.tolist(), counts.tolist()):
        if c > best[k]:
            major[k], best[k] = v, c
    return major, int(len(keys) - best.sum())


def _quotient(labels: np.ndarray, parent: np.ndarray, letter: np.ndarray, outputs: np.ndarray, k: int,
              net: Network) -> tuple[Moore, float, int]:
    """Quotient of the prefix tree: labels (nodes,) cluster per node (node 0 = the empty word, its
    own cluster k), parent / letter (nodes,) its tree edge (-1 at the root), outputs (nodes,)."""
    m = len(net.alphabet)
    n_states = k + 1
    edge = np.flatnonzero(parent >= 0)
    key = labels[parent[edge]] * m + letter[edge]
    move, bad_edges = _majority(key, labels[edge], n_states * m)
    out, bad_nodes = _majority(labels, outputs, n_states)
    consistency = 1.0 - (bad_edges + bad_nodes) / (len(edge) + len(labels))
    table = move.reshape(n_states, m)
    unseen = int((table < 0).sum())
    if unseen:
        table = np.vstack([np.where(table < 0, n_states, table), np.full((1, m), n_states)])
        out = np.append(out, -1)
    machine = Moore.from_table(net.alphabet, table, k, out, net.classes, net.accept_classes)
    return machine, consistency, unseen


def _tree_words(m: int, length: int, max_nodes: int) -> np.ndarray:
    """Every word of the longest length <= ``length`` whose prefix tree has <= max_nodes nodes:
    int64 (m^L, L), lexicographic."""
    if length < 1:
        raise ExtractionError("state abstraction needs words of length >= 1")
    L = length
    while L > 1 and (m ** (L + 1) - 1) // max(m - 1, 1) > max_nodes:
        L -= 1
    return np.indices((m,) * L).reshape(L, -1).T.astype(np.int64)


def abstract_layers(net: Network, *, length: int = 8, max_nodes: int = 1 << 14, max_clusters: int = 64,
                    seed: int = 0) -> list[Abstraction]:
    """:func:`abstract` on all layers together, then on each layer alone (one forward pass)."""
    words = _tree_words(len(net.alphabet), length, max_nodes)
    hidden = net.hidden(words)
    layers = [None] + (list(range(len(hidden))) if len(hidden) > 1 else [])
    return [abstract(net, length=length, max_nodes=max_nodes, max_clusters=max_clusters, layer=i, seed=seed,
                     hidden=hidden) for i in layers]


def abstract(net: Network, *, length: int = 8, max_nodes: int = 1 << 14, max_clusters: int = 64,
             layer: int | None = None, seed: int = 0, hidden: list[np.ndarray] | None = None) -> Abstraction:
    """Cluster the network's hidden states on all words up to ``length`` (fewer if that is over
    ``max_nodes`` prefix-tree nodes) and return the smallest consistent quotient, minimized.

    ``layer``: which layer's features (None: all layers concatenated). ``hidden``: the network's
    features on those words, if already computed.
    """
    m = len(net.alphabet)
    words = _tree_words(m, length, max_nodes)                                            # (m^L, L)
    L = words.shape[1]
    if hidden is None:
        hidden = net.hidden(words)
    if layer is not None and not 0 <= layer < len(hidden):
        raise ExtractionError(f"layer {layer} does not exist; the network has {len(hidden)} layer(s)")
    feats = hidden[layer] if layer is not None else np.concatenate(hidden, axis=-1)      # (m^L, L, D)
    classes = np.stack(net.outputs([tuple(w) for w in words.tolist()]))[:, 1:]            # (m^L, L)
    # node (t, v): the prefix of length t whose letters, read as a base-m number, are v;
    # its features sit in row v * m^(L - t), position t - 1. Node 0 is the empty word.
    x, parent, letter, outputs = [], [-1], [-1], [net.empty_output]
    first_id = [0]
    for t in range(1, L + 1):
        v = np.arange(m ** t)
        rows = v * m ** (L - t)
        x.append(feats[rows, t - 1])
        outputs.extend(classes[rows, t - 1].tolist())
        first_id.append(first_id[-1] + (m ** (t - 1) if t > 1 else 1))
        parent.extend((first_id[t - 1] + v // m).tolist() if t > 1 else [0] * m)
        letter.extend((v % m).tolist())
    x = np.concatenate(x)                                                                  # (nodes - 1, D)
    parent, letter, outputs = (np.array(a, dtype=np.int64) for a in (parent, letter, outputs))
    scale = np.abs(x).max() or 1.0
    uniq, inverse = np.unique(np.round(x / scale, 9), axis=0, return_inverse=True)      # distinct points
    inverse = inverse.reshape(-1)
    max_clusters = min(max_clusters, len(uniq))

    cache: dict[int, tuple[Moore, float, int]] = {}

    def attempt(k: int) -> tuple[Moore, float, int]:
        if k not in cache:
            lab = np.concatenate([[k], kmeans(uniq, k, seed=seed)[inverse]])
            kk = max(k, int(lab[1:].max()) + 1)
            lab[0] = kk
            cache[k] = _quotient(lab, parent, letter, outputs, kk, net)
        return cache[k]

    hi, found = 1, None
    while hi <= max_clusters:
        if attempt(hi)[1] == 1.0:
            found = hi
            break
        if hi == max_clusters:
            break
        hi = min(2 * hi, max_clusters)
    if found is not None and found > 1:
        lo = found // 2                                                     # lo failed, found works
        while found - lo > 1:
            mid = (lo + found) // 2
            if attempt(mid)[1] == 1.0:
                found = mid
            else:
                lo = mid
    k = found if found is not None else max_clusters
    machine, consistency, unseen = attempt(k)
    return Abstraction(features="all layers" if layer is None else f"layer {layer}", clusters=found,
                       machine=machine.minimize(), consistency=consistency, unseen_moves=unseen,
                       length=L, nodes=len(parent))
