"""Automaton extraction: which automaton does a network implement, and is it the target?

    from statetrack.extract import load_network, extract, Budget
    record, machine = extract(load_network("runs/parity"), Budget(max_states=64))

One concern per module: :mod:`~statetrack.extract.moore` (automata with a class per state),
:mod:`~statetrack.extract.oracles` (networks as cached, batched membership oracles),
:mod:`~statetrack.extract.lstar` (AALpy's L* / KV and the batched equivalence oracle),
:mod:`~statetrack.extract.abstraction` (clustering hidden states), :mod:`~statetrack.extract.equivalence`
(exact comparison, shortest counterexample, where the network fails), :mod:`~statetrack.extract.pipeline`
(the record), :mod:`~statetrack.extract.cli` (``statetrack extract``).
"""
from statetrack.extract.errors import BudgetExceeded, ExtractionError
from statetrack.extract.lstar import Budget, learn
from statetrack.extract.moore import Moore
from statetrack.extract.oracles import load_network
from statetrack.extract.pipeline import extract

__all__ = ["Budget", "BudgetExceeded", "ExtractionError", "Moore", "extract", "learn", "load_network"]
