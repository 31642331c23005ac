"""Networks as membership oracles: the class a network outputs after every prefix of a word.

    net = load_network("abb.safetensors")        # compiled weights (statetrack compile)
    net = load_network("runs/parity")            # a training run directory (statetrack train)
    net.outputs([(0, 1, 1), (1,)])               # [array([c_eps, c_a, c_ab, c_abb]), array([c_eps, c_b])]

Words are tuples of symbol indices into ``net.alphabet``. One forward pass over a word gives the
class after each of its prefixes, so :meth:`Network.outputs` caches every prefix it has seen and
runs only the words it has not, in batches of equal length (a word that is a prefix of another
missing word is not run at all). Classes are ints indexing ``net.classes``.

The empty word: a compiled model decodes its initial state (the source automaton's start state);
a trained classifier has no output before the first token, so it is given the target's label of
the start state (class 0 without a target). No word that a task labels is affected.

``net.target`` is the automaton the network should implement, as a :class:`~statetrack.extract.moore.Moore`
machine in the network's class numbering: the source automaton of compiled weights, or the task's
``automaton()`` with ``label_of_state`` for a run (None, with ``net.no_target`` saying why, when the
task defines none).
"""
from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from statetrack.extract.errors import ExtractionError
from statetrack.extract.moore import Moore

#: most positions (batch x length) per forward pass
CHUNK_POSITIONS = 1 << 16


class Network(abc.ABC):
    """A classifier over prefixes with a cache (see the module docstring).

    Attributes:
        alphabet: input symbols; classes: output class names; accept_classes: the classes that
        count as "accept" when the machine is read as a DFA; target: Moore | None; no_target:
        why there is no target (empty when there is one); describe: JSON-ready facts.
    """

    alphabet: tuple[str, ...]
    classes: tuple[str, ...]
    accept_classes: frozenset[int] = frozenset()
    target: Moore | None = None
    no_target: str = ""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, ...], int] = {}
        self.words_run = 0          # words sent to the network (after the cache)
        self.positions_run = 0      # letters read by the network
        self.forward_calls = 0

    # ------------------------------------------------------------------ to implement
    @abc.abstractmethod
    def classify(self, codes: np.ndarray) -> np.ndarray:
        """Class after each prefix: codes int64 (N, T), T >= 1 -> int64 (N, T)."""

    @abc.abstractmethod
    def hidden(self, codes: np.ndarray) -> list[np.ndarray]:
        """Per-position features for state abstraction, one array per layer: codes (N, T) ->
        a list of float64 (N, T, D_layer)."""

    @property
    @abc.abstractmethod
    def empty_output(self) -> int:
        """The class of the empty word (see the module docstring)."""

    def describe(self) -> dict:
        return {}

    # ------------------------------------------------------------------ batched, cached queries
    def outputs(self, words: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
        """Classes before and after each letter: one int64 (len(w) + 1,) array per word."""
        self.prefetch(words)
        c, e = self._cache, self.empty_output
        return [np.array([e] + [c[w[:t]] for t in range(1, len(w) + 1)], dtype=np.int64) for w in words]

    def prefetch(self, words: Sequence[tuple[int, ...]]) -> None:
        """Run the words not yet in the cache, in batches of equal length."""
        missing = sorted({tuple(w) for w in words if len(w) and tuple(w) not in self._cache})
        # in sorted order, a word that is a prefix of another missing word is a prefix of the next
        keep = [w for i, w in enumerate(missing) if i + 1 == len(missing) or missing[i + 1][:len(w)] != w]
        by_len: dict[int, list[tuple[int, ...]]] = {}
        for w in keep:
            by_len.setdefault(len(w), []).append(w)
        for length, group in sorted(by_len.items()):
            rows = max(1, CHUNK_POSITIONS // length)
            for i in range(0, len(group), rows):
                chunk = group[i:i + rows]
                out = self.classify(np.array(chunk, dtype=np.int64).reshape(len(chunk), length))   # (N, T)
                self.forward_calls += 1
                self.words_run += len(chunk)
                self.positions_run += len(chunk) * length
                for w, row in zip(chunk, out.tolist()):
                    for t in range(1, length + 1):
                        self._cache[w[:t]] = row[t - 1]

    @property
    def cache_size(self) -> int:
        return len(self._cache)


# ---------------------------------------------------------------------- compiled weights
#: how compiled weights are run: the numpy engine (any float format, fast) or the torch model
RUNNERS = ("simulator", "model")


class CompiledNetwork(Network):
    """Compiled :class:`~statetrack.constructions.weights.LRNNWeights`, run either by the numpy
    engine (:class:`~statetrack.constructions.engine.Simulator`, ``runner="simulator"``, every
    stored quantity rounded to ``dtype``) or as the torch model
    (:class:`~statetrack.models.compiled.CompiledLRNN`, ``naive`` backend, ``runner="model"``).
    Both decode each layer's state to its nearest codeword after every letter.

    Classes: ``reject``/``accept`` for a regex or DFA source, the group's elements for a group.
    """

    def __init__(self, weights, dtype: str = "float64", name: str = "", runner: str = "simulator"):
        super().__init__()
        if runner not in RUNNERS:
            raise ExtractionError(f"unknown runner {runner!r}; choose from {', '.join(RUNNERS)}")
        self.weights, self.name, self.dtype, self.runner = weights, name, dtype, runner
        self.sim = self.model = None
        if runner == "simulator":
            self.sim = weights.simulator(dtype)
            start_state = int(self.sim.automaton_states(self.sim.init(1))[0])
        else:
            import torch

            from statetrack.models.compiled import CompiledLRNN

            self.model = CompiledLRNN(weights, dtype=getattr(torch, dtype), backend="naive").eval()
            start_state = int(weights.automaton_states([np.array([layer.start_code]) for layer in self.model.layers])[0])
        self.alphabet = tuple(weights.alphabet)
        n_auto = len(weights.accepting)
        if weights.is_group:
            self.classes = tuple(weights.state_labels or (str(q) for q in range(n_auto)))
            self._class_of_state = np.arange(n_auto, dtype=np.int64)
        else:
            self.classes = ("reject", "accept")
            self._class_of_state = np.asarray(weights.accepting, dtype=np.int64)
            self.accept_classes = frozenset({1})
        self._empty = int(self._class_of_state[start_state])
        self.target = self._source_machine()

    def _source_machine(self) -> Moore:
        from statetrack.automata.dfa import DFA

        src = self.weights.source
        if src.get("kind") == "group":
            from statetrack.automata.groups import group

            d = group(src["name"]).to_dfa()
            m = Moore.from_table(d.alphabet, d.table, d.start, np.arange(d.n_states), d.labels)
        else:
            m = Moore.from_dfa(DFA.from_json(src["dfa"]))
        names = {c: i for i, c in enumerate(self.classes)}
        outputs = [names[m.classes[o]] for o in m.outputs.tolist()]
        return Moore.from_table(m.dfa.alphabet, m.dfa.table, m.dfa.start, outputs, self.classes, self.accept_classes)

    @property
    def empty_output(self) -> int:
        return self._empty

    def _codes(self, codes: np.ndarray) -> np.ndarray:
        """Each layer's decoded code after each letter: codes (N, T) -> int64 (N, T, n_layers)."""
        if self.sim is not None:
            out = np.empty((*codes.shape, len(self.weights.layers)), dtype=np.int64)
            state = self.sim.init(codes.shape[0])
            for t in range(codes.shape[1]):
                state = self.sim.step(state, codes[:, t])
                out[:, t] = np.stack(self.sim.layer_codes(state), axis=-1)
            return out
        import torch

        with torch.no_grad():
            _, layer_codes = self.model(torch.as_tensor(codes, dtype=torch.int64), return_codes=True)
        return torch.stack(layer_codes, dim=-1).numpy()

    def classify(self, codes: np.ndarray) -> np.ndarray:
        lc = self._codes(codes)                                                             # (N, T, L)
        states = self.weights.automaton_states(list(np.moveaxis(lc, -1, 0)))                # (N, T)
        return self._class_of_state[states]

    def hidden(self, codes: np.ndarray) -> list[np.ndarray]:
        """Each layer's decoded code (the read-out after its codebook): n_layers arrays (N, T, 1)."""
        lc = self._codes(codes).astype(np.float64)
        return [lc[..., i:i + 1] for i in range(lc.shape[-1])]

    def describe(self) -> dict:
        return {"kind": "compiled", "path": self.name, "construction": self.weights.construction,
                "dtype": self.dtype, "runner": self.runner, "source": self.weights.source.get("regex") or self.weights.source.get("name")
                or self.weights.source.get("file") or "dfa"}


def load_compiled(path: str | Path, dtype: str = "float64", runner: str = "simulator") -> CompiledNetwork:
    from statetrack.constructions.weights import load

    return CompiledNetwork(load(path), dtype=dtype, name=str(path), runner=runner)


# ---------------------------------------------------------------------- trained runs
class TrainedNetwork(Network):
    """A training run's classifier (``checkpoint.safetensors`` + ``config.json``), run on the CPU
    with the ``naive`` backend in float32; its class at a position is the argmax of the logits."""

    def __init__(self, run_dir: str | Path, *, require_target: bool = True):
        super().__init__()
        import torch

        from statetrack.models.lrnn import LRNN
        from statetrack.tasks import make_task
        from statetrack.train import checkpoint as ckpt
        from statetrack.train.config import TrainConfig

        run = Path(run_dir)
        self.run_dir = run
        weights, cfg_path = run / ckpt.FILENAME, run / "config.json"
        if not weights.is_file():
            raise ExtractionError(f"run directory {run} holds no weights ({ckpt.FILENAME} is missing)")
        try:
            cfg = TrainConfig.from_dict(json.loads(cfg_path.read_text()))
        except OSError as e:
            raise ExtractionError(f"run directory {run}: cannot read config.json ({e.strerror})") from None
        except json.JSONDecodeError as e:
            raise ExtractionError(f"{cfg_path} is not valid JSON ({e.msg}, line {e.lineno})") from None
        task = make_task(cfg.task, cfg.task_options)
        cfg.model.vocab_size, cfg.model.n_classes = task.vocab_size, task.n_classes
        cfg.model.backend = "naive"
        self.cfg, self.task = cfg, task
        self.model = LRNN(cfg.model)
        tensors, _ = ckpt.read_checkpoint(weights)
        state = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
        try:
            self.model.load_state_dict(state)
        except RuntimeError as e:
            raise ExtractionError(f"{weights} does not fit the model in {cfg_path}: {str(e).splitlines()[0]}") from None
        self.model.set_backend("naive")
        self.model.eval()
        self.alphabet, self.classes = tuple(task.tokens), tuple(task.classes)
        self._empty = 0
        try:
            dfa, labels = task.automaton(), np.asarray(task.label_of_state, dtype=np.int64)
        except NotImplementedError:
            self.no_target = f"task {task.name!r} defines no automaton with labels (Task.automaton / label_of_state)"
            if require_target:
                raise ExtractionError(self.no_target + "; extract without a target (--no-target)") from None
        else:
            acc = {int(labels[q]) for q in dfa.accepting if labels[q] >= 0}
            rej = {int(labels[q]) for q in range(dfa.n_states) if q not in dfa.accepting and labels[q] >= 0}
            self.accept_classes = frozenset(acc) if not acc & rej else frozenset()
            self.target = Moore.from_table(dfa.alphabet, dfa.table, dfa.start, labels, self.classes,
                                           self.accept_classes)
            self._empty = int(labels[dfa.start])          # -1 when the task leaves it unlabelled

    @property
    def empty_output(self) -> int:
        return self._empty

    def _forward(self, codes: np.ndarray):
        import torch

        with torch.no_grad():
            return self.model(torch.as_tensor(codes, dtype=torch.int64), return_hidden=True)

    def classify(self, codes: np.ndarray) -> np.ndarray:
        """Argmax class after each prefix; -1 where the task gives no label (the target's state is
        unlabelled there), so the network's unused outputs add no states to what is learned."""
        logits, _ = self._forward(codes)                                                    # (N, T, C)
        out = logits.argmax(-1).numpy()
        if self.target is not None and (self.target.outputs < 0).any():
            out[self.target.run_outputs(codes)[:, 1:] < 0] = -1
        return out

    def hidden(self, codes: np.ndarray) -> list[np.ndarray]:
        """The residual stream after each block: n_layers arrays (N, T, d_model)."""
        _, hidden = self._forward(codes)
        return [h.double().numpy() for h in hidden]

    def describe(self) -> dict:
        m = self.cfg.model
        return {"kind": "trained", "path": str(self.run_dir), "task": self.task.describe()["name"],
                "task_options": self.task.options(), "model": m.kind, "eig_range": m.eig_range,
                "n_layers": m.n_layers, "seed": self.cfg.seed}


def load_network(path: str | Path, *, dtype: str = "float64", runner: str = "simulator",
                 require_target: bool = True) -> Network:
    """A training run directory or a compiled weights file, as a :class:`Network`."""
    p = Path(path)
    if p.is_dir():
        return TrainedNetwork(p, require_target=require_target)
    if not p.exists():
        raise ExtractionError(f"{p} does not exist (give a training run directory or a compiled weights file)")
    return load_compiled(p, dtype=dtype, runner=runner)
