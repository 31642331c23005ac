"""Find, check and group results files: the only input of a report.

    runs = load_runs(["runs/parity", "benchmarks/results"])     # every results.json at or below
    tasks = group_runs(runs)                                      # one TaskGroup per task

A path may be a ``results.json`` file, a run directory holding one, or any directory with run
directories below it (a sweep's output, ``benchmarks/results``). A *bundle* — one JSON file whose
``runs`` map names to ``{"ok": ..., "results": {...}}``, as ``benchmarks/protocol_gpu.py``
writes (schema ``statetrack.train.protocol/1``) — counts as all its successful runs; directories
are searched for bundles too. Training results
(``statetrack.train.results/1``) are *learned* runs; ``statetrack analyze`` writes *constructed*
ones (``statetrack.constructed.results/1``). Runs are grouped by task (name and options, read
from the JSON), learned runs within a task by model (kind, eigenvalue range, n_h) — seeds and any
other differences are the spread — and constructed runs by construction.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from statetrack.reports.errors import ReportError

TRAIN_SCHEMA = "statetrack.train.results/1"
BUNDLE_SCHEMAS = ("statetrack.train.protocol/1",)
CONSTRUCTED_SCHEMA = "statetrack.constructed.results/1"
SCHEMAS = (TRAIN_SCHEMA, CONSTRUCTED_SCHEMA)
FILENAME = "results.json"

#: keys every results file must hold (dotted), checked before anything is drawn
REQUIRED = ("task.name", "task.options", "task.chance", "model.kind", "eval.lengths", "eval.accuracy",
            "eval.test_range", "eval.train_range")

#: (mlp, init) of our blocks, and how the report names the others (statetrack.models.lrnn)
DEFAULT_BLOCKS = ("gelu", "torch")
BLOCK_NAMES = {"": "GELU MLP, PyTorch init", "swiglu/p1": "P1's blocks: SwiGLU MLP, P1's init",
               "swiglu/fla": "fla's blocks: SwiGLU MLP, fla's init"}

MODEL_NAMES = {"deltanet": "DeltaNet", "deltaproduct": "DeltaProduct", "diagonal": "Mamba-like diagonal",
               "transformer": "Transformer"}


@dataclass(frozen=True)
class Run:
    """One results file.

    Attributes:
        path: the results.json.
        data: its parsed contents.
        kind: "learned" or "constructed".
    """

    path: Path
    data: dict
    kind: str
    name: str = ""        # inside a bundle: the run's name there

    @property
    def where(self) -> str:
        """The file, and the run's name when it came from a bundle."""
        return f"{self.path}#{self.name}" if self.name else str(self.path)

    @property
    def task_key(self) -> str:
        t = self.data["task"]
        return t["name"] + json.dumps(t.get("options") or {}, sort_keys=True)

    @property
    def variant_key(self) -> tuple:
        """Learned: (kind, eig_range, n_h, setup); constructed: ("constructed", construction name).

        ``setup`` = (layers, d_model, "cpu" or "gpu"): runs of one model in different set-ups are
        different experiments, never each other's seeds.
        """
        m = self.data["model"]
        if self.kind == "constructed":
            return ("constructed", str(m.get("construction", "?")))
        # attention has no transition matrix: its config's eigenvalue range means nothing
        rng = "" if m["kind"] == "transformer" else str(m.get("eig_range", "?"))
        return (str(m["kind"]), rng, int(m.get("n_h") or 1), self.setup)

    @property
    def setup(self) -> tuple:
        """(layers, d_model, "cpu" or "gpu", blocks): blocks is "" for our default MLP and
        initialization, else the ``(mlp, init)`` the run's config names."""
        m = self.data["model"]
        device = "cpu" if str(self.data.get("device", "cpu")) == "cpu" else "gpu"
        cm = (self.data.get("config") or {}).get("model") or {}
        blocks = (cm.get("mlp", "gelu"), cm.get("init", "torch"))
        return (m.get("n_layers"), m.get("d_model"), device, "" if blocks == DEFAULT_BLOCKS else "/".join(blocks))

    @property
    def seed(self):
        return self.data.get("seed")


@dataclass
class Variant:
    """The runs of one model (or one construction) on one task."""

    key: tuple
    runs: list[Run] = field(default_factory=list)
    detail: str = ""      # set by group_runs when one model ran in several set-ups on a task

    @property
    def constructed(self) -> bool:
        return self.key[0] == "constructed"

    @property
    def eig_range(self) -> str | None:
        return None if self.constructed else self.key[1]

    @property
    def label(self) -> str:
        """Display name: ``DeltaNet [-1,1]``, ``DeltaProduct n_h=2 [0,1]``, ``construction: rotation``."""
        if self.constructed:
            return f"construction: {self.key[1]}"
        kind, rng, n_h = self.key[:3]
        name = MODEL_NAMES.get(kind, kind)
        if kind == "deltaproduct":
            name += f" n_h={n_h}"
        return f"{name}{f' [{rng}]' if rng else ''}" + (f" ({self.detail})" if self.detail else "")

    @property
    def short(self) -> str:
        if self.constructed:
            return self.key[1]
        return f"learned [{self.key[1]}]" if self.key[0] == "deltanet" else self.label


@dataclass
class TaskGroup:
    """Every run on one task, learned variants first ([0,1] before [-1,1]), constructions last."""

    key: str
    task: dict
    variants: list[Variant]

    @property
    def title(self) -> str:
        return task_title(self.task)

    @property
    def slug(self) -> str:
        import re

        return re.sub(r"[^a-z0-9]+", "_", self.title.lower()).strip("_")

    @property
    def learned(self) -> list[Variant]:
        return [v for v in self.variants if not v.constructed]

    @property
    def constructed(self) -> list[Variant]:
        return [v for v in self.variants if v.constructed]


def task_title(task: dict) -> str:
    """A readable task name from a results file's ``task`` section."""
    name, opts = task["name"], dict(task.get("options") or {})
    if opts.pop("labels", "every") == "final":       # P1's format: one label per word, at its end
        return task_title({**task, "options": opts}) + ", P1 format (label at the end)"
    if name == "parity":
        return "Parity"
    if name == "counting":
        extra = " (input 1^t)" if opts.get("n_symbols") == 1 else ""
        return f"Counting mod {opts.get('m', '?')}{extra}"
    if name == "word_problem":
        title = f"{opts.get('group', '?')} word problem"
        if opts.get("variant", "full") != "full":
            title += f", {opts['variant']} only"
        if opts.get("tokens_per_element", 1) != 1:
            title += f", {opts['tokens_per_element']} tokens per element"
        return title
    if name == "modular_arithmetic":
        return f"Modular arithmetic mod {opts.get('m', '?')} (no brackets)"
    if name == "modular_arithmetic_brackets":
        return f"Modular arithmetic mod {opts.get('m', '?')} with brackets, P1 format (label at the end)"
    if name == "cycle_navigation":
        return f"Cycle navigation ({opts.get('n', 5)}-cycle)"
    if name == "even_pairs":
        return "Even pairs"
    if name == "regex" and "regex" in opts:
        return f"Regex {opts['regex']} over {opts.get('alphabet', '?')}"
    rest = ", ".join(f"{k}={v}" for k, v in sorted(opts.items()) if k != "dfa")
    return f"{name} ({rest})" if rest else name


def _get(d: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            raise KeyError(dotted)
        d = d[part]
    return d


def _parse(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as e:
        raise ReportError(f"cannot read {path}: {e.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ReportError(f"{path} is not valid JSON ({e.msg}, line {e.lineno})") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path} is not a text file") from None
    if not isinstance(data, dict):
        raise ReportError(f"{path} does not hold a JSON object")
    return data


def check_results(data: dict, where: str) -> str:
    """Check one results dict; return its kind ("learned" or "constructed"). ReportError names the problem."""
    schema = data.get("schema")
    if schema not in SCHEMAS:
        raise ReportError(f"{where} is not a statetrack results file (schema {schema!r}; expected one of "
                          f"{', '.join(SCHEMAS + BUNDLE_SCHEMAS)})")
    for key in REQUIRED:
        try:
            _get(data, key)
        except KeyError:
            raise ReportError(f"{where} lacks the key {key!r} that schema {schema} requires") from None
    n = len(data["eval"]["lengths"])
    if len(data["eval"]["accuracy"]) != n:
        raise ReportError(f"{where}: eval.accuracy has {len(data['eval']['accuracy'])} values for {n} lengths")
    return "constructed" if schema == CONSTRUCTED_SCHEMA else "learned"


def read_runs(path: Path) -> list[Run]:
    """The runs in one file: a results file (one run) or a bundle (its successful runs)."""
    data = _parse(path)
    if data.get("schema") in BUNDLE_SCHEMAS:
        runs = data.get("runs")
        if not isinstance(runs, dict):
            raise ReportError(f"{path}: bundle without a 'runs' mapping")
        out = []
        for name, entry in sorted(runs.items()):
            if isinstance(entry, dict) and entry.get("ok") and isinstance(entry.get("results"), dict):
                res = entry["results"]
                out.append(Run(path=path, data=res, kind=check_results(res, f"{path}#{name}"), name=name))
        if not out:
            raise ReportError(f"{path}: bundle holds no successful run")
        return out
    return [Run(path=path, data=data, kind=check_results(data, str(path)))]


def read_run(path: Path) -> Run:
    """Parse and check one results file (not a bundle)."""
    runs = read_runs(path)
    if len(runs) != 1 or runs[0].name:
        raise ReportError(f"{path} is a bundle of {len(runs)} runs, not one results file")
    return runs[0]


def _is_bundle(path: Path) -> bool:
    """A cheap look at the head of a JSON file for a bundle schema (write_results puts it first)."""
    import re

    try:
        with open(path, "rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace")
    except OSError:
        return False
    m = re.search(r'"schema"\s*:\s*"([^"]+)"', head)
    return bool(m) and m.group(1) in BUNDLE_SCHEMAS


def find_results(paths) -> list[Path]:
    """Every results file named by the paths (files as given; directories searched below them for
    ``results.json`` files and bundles)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise ReportError(f"{p}: no such file or directory")
        if p.is_file():
            found.append(p)
        elif (p / FILENAME).is_file():
            found.append(p / FILENAME)
        else:
            below = sorted(q for q in p.rglob("*.json") if q.name == FILENAME or _is_bundle(q))
            if not below:
                raise ReportError(f"{p}: no {FILENAME} (or bundle of runs) in it or in any directory below it")
            found.extend(below)
    return list(dict.fromkeys(q.resolve() for q in found))


def load_runs(paths) -> list[Run]:
    """Read every run named by ``paths`` (see :func:`find_results`)."""
    if not paths:
        raise ReportError("no run directories given")
    return [run for p in find_results(paths) for run in read_runs(p)]


def _variant_order(v: Variant) -> tuple:
    if v.constructed:
        return (2, v.key[1])
    kind, rng, n_h = v.key[:3]
    setup = tuple(str(x) for x in v.key[3:])
    return (1, list(MODEL_NAMES).index(kind) if kind in MODEL_NAMES else 9, kind, n_h, setup, {"0,1": 0, "-1,1": 1}.get(rng, 2), rng)


def _name_setups(variants: list[Variant]) -> None:
    """Label the set-up (layers, width, CPU; MLP and initialization) of models that ran in more than one
    on this task, naming only the parts that differ."""
    setups: dict[tuple, set] = {}
    for v in variants:
        if not v.constructed:
            setups.setdefault((v.key[0], v.key[2]), set()).add(v.key[3])
    for v in variants:
        if v.constructed or len(others := setups[(v.key[0], v.key[2])]) < 2:
            continue
        layers, d, device, blocks = v.key[3]
        parts = []
        if len({(o[0], o[1], o[2]) for o in others}) > 1:
            parts.append(f"{layers} layers, d_model {d}" + (", CPU" if device == "cpu" else ""))
        if len({o[3] for o in others}) > 1:
            parts.append(BLOCK_NAMES.get(blocks, blocks.replace("/", " MLP, ") + " init"))
        v.detail = "; ".join(parts)


def group_runs(runs: list[Run]) -> list[TaskGroup]:
    """Group runs by task, then by variant; tasks in the order of :data:`TASK_ORDER`, then by title."""
    tasks: dict[str, TaskGroup] = {}
    for r in runs:
        g = tasks.setdefault(r.task_key, TaskGroup(key=r.task_key, task=r.data["task"], variants=[]))
        for v in g.variants:
            if v.key == r.variant_key:
                v.runs.append(r)
                break
        else:
            g.variants.append(Variant(key=r.variant_key, runs=[r]))
    for g in tasks.values():
        _name_setups(g.variants)
        g.variants.sort(key=_variant_order)
        for v in g.variants:
            v.runs.sort(key=lambda r: (r.seed if isinstance(r.seed, int) else 0, r.where))
    return sorted(tasks.values(), key=_task_order)


#: where the paper's tasks come in a report
TASK_ORDER = ("parity", "counting", "cycle_navigation", "modular_arithmetic", "even_pairs", "word_problem")


def _task_order(g: TaskGroup) -> tuple:
    name = g.task["name"]
    return (TASK_ORDER.index(name) if name in TASK_ORDER else len(TASK_ORDER), g.title)
