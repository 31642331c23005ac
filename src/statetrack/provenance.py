"""One home for what every results file records, and for writing it.

Every JSON file statetrack writes (``check --json``, ``claims --json``, training ``results.json``,
sweep summaries, reports' derived results, kernel benchmarks) goes through :func:`write_json`, and
its run description comes from :func:`provenance`:

```
{"seed": int | null, "dtype": str | null, "backend": str | null, "device": str,
 "versions": {"statetrack", "python", "numpy", "torch", "triton", ...},   # null when not installed
 "git": {"commit": 40 hex digits | null, "dirty": bool | null}}          # null outside a checkout
```

Conventions, the same in every file:

- writes are atomic: a temporary file beside the target, fsync, then a rename, so a reader never
  sees half a file and an interrupted run leaves the previous file intact;
- NaN and +/-inf are written as ``null`` (JSON has no such numbers); numpy scalars and arrays become
  plain numbers and lists, complex numbers ``{"re", "im"}``;
- versions are read from the installed distributions' metadata, so recording them does not import
  torch (which costs about two seconds).

This module imports nothing from the rest of statetrack except ``__version__`` and the errors,
so any layer may use it.
"""
from __future__ import annotations

import json
import math
import os
import platform
import re
import subprocess
import tempfile
from fractions import Fraction
from importlib import metadata
from pathlib import Path

from statetrack.errors import StatetrackError

#: Distributions whose versions every record lists (null when one is not installed).
RECORDED_PACKAGES = ("numpy", "torch", "triton", "sympy", "ml_dtypes", "safetensors", "automata-lib")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it over, so readers never see half a file.

    Raises StatetrackError (one line naming the path) when the path cannot be written: a directory,
    a path under a regular file, no permission.
    """
    path = Path(path)
    check_output_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise StatetrackError(f"cannot write {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise StatetrackError(f"cannot write {path}: {e.strerror or e}") from None
        raise


def check_output_path(path: str | Path, *, directory: bool = False) -> Path:
    """Refuse an output path that cannot be created, before any work is done.

    ``directory=False``: ``path`` will be a file (it must not be an existing directory).
    ``directory=True``: ``path`` will be a directory (it must not be an existing regular file).
    Either way no ancestor may be a regular file. Returns ``path`` as a Path.
    """
    if not str(path).strip():
        raise StatetrackError("the output path is empty")
    path = Path(path)
    if not directory and path.is_dir():
        raise StatetrackError(f"{path} is a directory; give a file path")
    if directory and path.exists() and not path.is_dir():
        raise StatetrackError(f"{path} exists and is not a directory")
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise StatetrackError(f"cannot write {path}: {parent} is a file, not a directory")
            break
    return path


def jsonable(x):
    """``x`` with numpy types, tuples and non-finite floats turned into plain JSON values.

    NaN and +/-inf become None (``null``); complex numbers ``{"re", "im"}``; Fractions ``"p/q"``;
    dict keys strings.
    """
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        np = None
    if isinstance(x, bool) or x is None or isinstance(x, (int, str)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, complex):
        return {"re": jsonable(x.real), "im": jsonable(x.imag)}
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in (sorted(x) if isinstance(x, (set, frozenset)) else x)]
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, Fraction):
        return str(x)
    if np is not None:
        if isinstance(x, np.ndarray):
            return jsonable(x.tolist())
        if isinstance(x, np.bool_):
            return bool(x)
        if isinstance(x, np.integer):
            return int(x)
        if isinstance(x, np.floating):
            return jsonable(float(x))
        if isinstance(x, np.complexfloating):
            return jsonable(complex(x))
    return x


def dumps(doc, *, indent: int | None = 1) -> str:
    """``doc`` as JSON text under the NaN -> null convention (never emits NaN/Infinity)."""
    return json.dumps(jsonable(doc), indent=indent, allow_nan=False)


def write_json(path: str | Path, doc: dict, *, indent: int | None = 1) -> None:
    """Write ``doc`` to ``path`` atomically, as JSON (indented unless ``indent=None``) with a final newline."""
    atomic_write_bytes(Path(path), (dumps(doc, indent=indent) + "\n").encode("utf-8"))


def read_json(path: str | Path, what: str = "JSON file"):
    """Parse a JSON file; StatetrackError names the file on a missing file, a directory or bad JSON."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except IsADirectoryError:
        raise StatetrackError(f"{what} {path} is a directory") from None
    except FileNotFoundError:
        raise StatetrackError(f"{what} {path} not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise StatetrackError(f"cannot read {what} {path}: {e}") from None
    except json.JSONDecodeError as e:
        raise StatetrackError(f"{what} {path} is not valid JSON: {e.msg} at line {e.lineno}") from None


def versions() -> dict:
    """Versions of statetrack, Python and the recorded packages (null for one not installed)."""
    from statetrack.version import __version__

    out = {"statetrack": __version__, "python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            out[name.replace("-", "_")] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name.replace("-", "_")] = None
    return out


def git_info(start: Path | None = None) -> dict:
    """The commit of the statetrack checkout and whether tracked files differ from it.

    Both are None outside a git work tree (e.g. an installed wheel). ``STATETRACK_COMMIT`` in the
    environment overrides the commit (for copies of the tree without ``.git``; dirty is then None).
    """
    if os.environ.get("STATETRACK_COMMIT"):
        return {"commit": os.environ["STATETRACK_COMMIT"], "dirty": None}
    here = start or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
        if commit is not None and not re.fullmatch(r"[0-9a-f]{40}", commit):
            commit = None          # e.g. a copy of the tree without its .git
        dirty = None
        if commit:
            status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                                    capture_output=True, text=True, timeout=10).stdout
            dirty = bool(status.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    return {"commit": commit, "dirty": dirty}


def device_name(device=None) -> str:
    """``"cpu"`` or the CUDA device's name; ``device`` is a torch.device, a string or None (cpu)."""
    if device is None or getattr(device, "type", str(device)) != "cuda":
        return "cpu"
    import torch

    return torch.cuda.get_device_name(device)


def provenance(*, seed: int | None = None, dtype: str | None = None, backend: str | None = None,
               device=None) -> dict:
    """The run description every results file carries (see the module docstring)."""
    return {"seed": seed, "dtype": dtype, "backend": backend, "device": device_name(device),
            "versions": versions(), "git": git_info()}
