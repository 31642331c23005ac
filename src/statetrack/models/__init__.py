"""Torch models: DeltaNet, DeltaProduct(n_h) and diagonal mixers with an eigenvalue-range switch,
the LRNN classifier built from them, and compiled LRNNWeights loaded into the same mixers.

    from statetrack.models import LRNN, ModelConfig, from_weights
    model = LRNN(ModelConfig(kind="deltanet", eig_range="-1,1", vocab_size=2, n_classes=2))
    compiled = from_weights(statetrack.compile(dfa), dtype=torch.float32)
"""
from statetrack.models.lrnn import KINDS, LRNN, ModelConfig
from statetrack.models.mixers import EIG_RANGES, DeltaNet, DeltaProduct, Diagonal, ModelError, parse_eig_range


def from_weights(weights, dtype=None, backend: str = "naive"):
    """Load compiled :class:`~statetrack.constructions.weights.LRNNWeights` (see models.compiled)."""
    from statetrack.models.compiled import CompiledLRNN

    return CompiledLRNN(weights, dtype=dtype, backend=backend)


__all__ = ["LRNN", "ModelConfig", "KINDS", "EIG_RANGES", "DeltaNet", "DeltaProduct", "Diagonal", "ModelError",
           "parse_eig_range", "from_weights"]
