"""Measurements of explicit weights on a task (``statetrack analyze``): what the reports render beside
training runs. Reports only render; everything they show is measured here or by training
(:mod:`statetrack.train.analysis`)."""
