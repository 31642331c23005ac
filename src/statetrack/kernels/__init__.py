"""Linear-RNN kernels: delta rule, DeltaProduct and diagonal recurrences, each with three backends.

Every op takes the layout ``[B, T, H, K]``, returns ``(o, final_state_or_None)``, supports autograd
for all inputs and the initial state, and picks its implementation with ``backend``:

* ``"naive"``: a PyTorch loop (float64-capable), the ground truth; needs no Triton;
* ``"fused_recurrent"``: Triton, one time step after another;
* ``"chunk"``: Triton, chunked form (the fast one, default).

>>> from statetrack.kernels import delta_rule, delta_product, diagonal

Triton is imported only when a Triton backend runs.
"""
from statetrack.kernels._common import BACKENDS, KernelArgumentError
from statetrack.kernels.delta_product import delta_product
from statetrack.kernels.delta_rule import delta_rule
from statetrack.kernels.diagonal import diagonal

__all__ = ["BACKENDS", "KernelArgumentError", "delta_product", "delta_rule", "diagonal"]
