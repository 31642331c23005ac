"""Learned-versus-constructed reports.

Two steps, each a CLI command (:mod:`statetrack.reports.cli`):

1. ``statetrack analyze`` measures a construction on a task once and writes a results file of kind
   "constructed" (:mod:`statetrack.measure.constructed`), beside the training runs' results files.
2. ``statetrack report RUN_DIR... -o DIR`` reads results files only (:mod:`statetrack.reports.load`),
   groups them by task and model, and renders ``report.html`` (self-contained) and ``report.md``
   with ``figures/`` (:mod:`statetrack.reports.render`, :mod:`statetrack.reports.figures`).
"""
from statetrack.reports.errors import ReportError

__all__ = ["ReportError"]
