"""The roofline of `statetrack bench kernels` (:mod:`statetrack.kernels.bench`): the fewest bytes and the
matrix-product FLOPs of a chunked delta-rule or DeltaProduct call, and the floor they set on a device
whose copy bandwidth and bf16 matrix rate the bench's ``env`` stage measured. Pure; tested on the CPU."""
from __future__ import annotations


def min_bytes(B, T, H, K, V, itemsize, n_h=1, backward=False) -> int:
    """Fewest bytes a delta-rule / DeltaProduct call must move: each input read once, each output
    written once (q [B,T,H,K], k/v/beta with n_h sub-steps, o; backward adds do and four gradients)."""
    q, o = B * T * H * K, B * T * H * V
    k, v, beta = n_h * q, n_h * B * T * H * V, n_h * B * T * H
    fwd = q + k + v + beta + o
    return itemsize * (fwd + (fwd + o + q + k + v + beta if backward else 0))


def chunk_flops(B, T, H, K, V, n_h=1, backward=False, C=64) -> float:
    """Matrix-product FLOPs of the chunked form per C-row chunk: K K^T, T K, T V, W S, Q K^T, Q S,
    (Q K^T) Un, K^T Un, i.e. 2 (3 C^2 K + 2 C^2 V + 3 C K V); the backward pass taken as twice that."""
    chunks = B * H * -(-T * n_h // C)
    fwd = 2.0 * chunks * (3 * C * C * K + 2 * C * C * V + 3 * C * K * V)
    return fwd * (3.0 if backward else 1.0)


def roofline_ms(nbytes, flops, ceilings) -> float:
    """The floor: the larger of bytes / bandwidth and FLOPs / matrix rate, in ms."""
    return max(nbytes / ceilings["copy_GBps"] / 1e6, flops / ceilings["bf16_TFLOPs"] / 1e9)


def add_roofline(row: dict, ceilings: dict | None) -> None:
    """Add the floor and the fraction of it reached to a timing row (bf16 times only)."""
    if not ceilings or "shape" not in row or not any(k.endswith("_ms") for k in row):
        return
    B, T, H, K, V = row["shape"]
    n_h = row.get("n_h", 1)
    for kind, bwd in (("fwd", False), ("fwdbwd", True)):
        floor = roofline_ms(min_bytes(B, T, H, K, V, 2, n_h, bwd), chunk_flops(B, T, H, K, V, n_h, bwd), ceilings)
        row[f"roofline_bf16_{kind}_ms"] = floor
        for who in ("ours", "fla"):
            ms = row.get(f"{who}_bf16_{kind}_ms")
            if isinstance(ms, float):
                row[f"{who}_bf16_{kind}_roofline_fraction"] = floor / ms
