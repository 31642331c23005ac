"""proofs_check: the paper's eigenvalue and finite-precision claims, checked numerically.

One module per claim; every check returns a :class:`ClaimResult` (verdict ``holds``/``fails``
with its evidence), never a warning, and takes its inputs as parameters so that tests can hand it
a deliberately broken one. ``run_claims(quick)`` runs them all; ``statetrack claims`` prints them.

    parity_needs_negative   P1 Thm 1 / Lemma 1 (float8 exhaustive, sampled per-step, reflection)
    general_nonneg          Thm 1 for dense non-normal transitions, widths <= 8, stacks (exact state)
    per_step_scope          where Thm 1 stops under per-step rounding (certified GH witness)
    mod3_non_triangular     P1 Thm 2, final wording (triangular stacks; rotation vs permutation counters)
                            (was mod3_needs_complex; claim mod3.triangular_period is now
                            mod3.non_triangular_needed)
    per_step_mod3           a certified real-spectrum GH layer counting mod 3 (per-factor rounding)
    gh_products             P1 Prop 1 (norm, factorization, real spectrum, k = 3 witness)
    one_hot_limit           symmetric factors cannot merge one-hot states; non-symmetric can
    deltaproduct            P2: norm and rank of n_h-factor products, reachable eigenvalues, groups per n_h

Every row records its rounding model (per token, per factor, exact state or none) in
``details.rounding`` (``runner.ROUNDING``).
"""
from statetrack.proofs_check.result import ClaimResult
from statetrack.proofs_check.runner import run_claims

__all__ = ["ClaimResult", "run_claims"]
