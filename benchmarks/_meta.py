"""Facts every benchmark result records: machine, versions, commit, time."""
from __future__ import annotations

import datetime
import os
import platform
from pathlib import Path


def run_metadata(**extra) -> dict:
    import numpy

    from statetrack import __version__

    from statetrack.train.results import git_info

    git = git_info(Path(__file__).resolve().parent)
    commit, dirty = git["commit"], git["dirty"]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "commit": os.environ.get("STATETRACK_COMMIT", commit), "dirty": dirty, "cpu": cpu,
            "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "python": platform.python_version(), "numpy": numpy.__version__, "statetrack": __version__, **extra}
