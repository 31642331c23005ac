"""The seed offsets shared by training, analysis and constructed-model measurement.

A run with seed s draws its training batches from generators seeded by (s, step, rank) (train.loop);
evaluation words come from ``s + EVAL_SEED_OFFSET`` and analysis samples (probes, state norms)
from ``s + ANALYSIS_SEED_OFFSET``, so they never share a generator with training, and a learned
and a constructed model measured with the same seed see the same words.
"""
from __future__ import annotations

EVAL_SEED_OFFSET = 1_000_003
ANALYSIS_SEED_OFFSET = 2_000_029

