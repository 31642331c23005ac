"""Exact facts about the spectrum of a rational matrix (Sturm sequences through sympy).

Floating-point eigenvalue routines return tiny imaginary parts for real eigenvalues of non-normal
matrices and cannot certify that an eigenvalue is >= 0. Here a matrix of Fractions (e.g. the exact
product of stored factors, ``product_matrix(..., exact=True)``) is reduced to its characteristic
polynomial over Q, and its distinct real roots are counted exactly.
"""
from __future__ import annotations

from fractions import Fraction

import numpy as np


def spectrum_facts(m) -> dict:
    """For a square matrix of Fractions/ints/floats (each entry taken exactly):

    ``real``: every eigenvalue is real; ``in_unit``: every eigenvalue is real and in [0, 1];
    ``nonneg``: every eigenvalue is real and >= 0; ``distinct``: number of distinct eigenvalues;
    ``complex_pairs``: number of distinct non-real conjugate pairs.
    """
    import sympy as sp

    m = np.asarray(m, dtype=object)
    rows = [[sp.Rational(Fraction(x).numerator, Fraction(x).denominator) for x in row] for row in m]
    lam = sp.Symbol("lam")
    poly = sp.Matrix(rows).charpoly(lam)
    sqf = sp.Poly(sp.quo(poly.as_expr(), sp.gcd(poly.as_expr(), sp.diff(poly.as_expr(), lam))), lam)
    distinct = sqf.degree()
    real = sqf.count_roots()
    nonneg = sqf.count_roots(0, None)
    unit = sqf.count_roots(0, 1)
    return {"real": real == distinct, "nonneg": nonneg == distinct, "in_unit": unit == distinct,
            "distinct": int(distinct), "complex_pairs": int((distinct - real) // 2)}
