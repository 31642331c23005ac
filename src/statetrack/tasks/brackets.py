"""Modular arithmetic with brackets (P1 Table 3, last column): a context-free task, not regular.

Words are fully bracketed expressions over numbers ``0..m-1`` and ``+ - *``, drawn as P1's
official generator draws them: an expression of length n >= 5 is ``( E1 op E2 )`` with the left
length uniform in 1..n-4 and the right one filling the rest; shorter ones are ``d``, ``- d``,
``( d )`` and ``( - d )``. One label per word: its value mod m, read after the last token.
Tokens: ``0..m-1``, then ``+ - * ( )``.

    input   ( 3 + ( - 2 ) )        target at the end: 1  (3 - 2, mod 5)

The language is not regular, so it has no automaton: probes and automaton extraction do not apply
(:meth:`automaton` says so). :meth:`ModularArithmeticBrackets.expression` builds one word on the
CPU by recursion. :meth:`ModularArithmeticBrackets.device_words` draws fresh words of the same law
on the device, for many words at once with static shapes, so the device stream
(:mod:`statetrack.tasks.stream`) gives every training step new words as P1's generator does.
:meth:`ModularArithmeticBrackets.device_words_ref` is its slow twin: the recursion, reading the
same draws.

On the device, the sub-expressions (segments) of a word are found top-down, one nesting level per
iteration. A segment is known by its start position, and no two segments start at the same
position (a segment's children start after its first token), so the pending segments of a level
fit in one ``[R, B, T]`` tensor of lengths held at their starts, and each segment's draws (left
length, operator, digit) are the hashes at its start. Then every token is written at once, and the
values are computed bottom-up, each iteration combining the values at the children's starts.
"""
from __future__ import annotations

import numpy as np
import torch

from statetrack.tasks.base import Batch, Draw, Task, TaskError, check_size

OPERATORS = ("+", "-", "*")
#: purposes of the device sampler's draws: one hash per (segment start, purpose)
_SPLIT, _OP, _DIGIT = 0, 1, 2


def levels(max_len: int) -> int:
    """Nesting levels of a word of at most ``max_len`` tokens, leaves included: ``ceil(max_len / 4)``.
    A segment of length L >= 5 is split into children of length <= L - 4 and one of length < 5 is a
    leaf, so a chain of h splits needs L >= 4 h + 1: at most ``(max_len - 1) // 4`` splits, then a leaf."""
    return (max_len - 1) // 4 + 1


class ModularArithmeticBrackets(Task):
    name = "modular_arithmetic_brackets"
    prefix_closed = False

    def __init__(self, m: int = 5):
        if not isinstance(m, int) or m < 2:
            raise TaskError(f"modular_arithmetic_brackets: the modulus m must be an integer >= 2, got {m!r}")
        self.m = m
        self.tokens = tuple(str(i) for i in range(m)) + OPERATORS + ("(", ")")
        self.classes = tuple(str(i) for i in range(m))
        self._id = {t: i for i, t in enumerate(self.tokens)}

    def options(self) -> dict:
        return {"m": self.m}

    def expression(self, length: int, rng: np.random.Generator) -> tuple[list[int], int]:
        """One expression of exactly ``length`` tokens (token ids) and its value mod m."""
        if length < 5:
            return self._short(length, int(rng.integers(self.m)))
        left = int(rng.integers(1, length - 3))
        a, va = self.expression(left, rng)
        b, vb = self.expression(length - left - 3, rng)
        op = int(rng.integers(3))
        return self._combine(a, va, op, b, vb)

    def _short(self, length: int, d: int) -> tuple[list[int], int]:
        """The expression of ``length`` 1..4 on digit d: ``d``, ``- d``, ``( d )``, ``( - d )``."""
        m, tok = self.m, self._id
        forms = {1: ([str(d)], d), 2: (["-", str(d)], -d % m), 3: (["(", str(d), ")"], d),
                 4: (["(", "-", str(d), ")"], -d % m)}
        words, value = forms[length]
        return [tok[w] for w in words], value

    def _combine(self, a: list[int], va: int, op: int, b: list[int], vb: int) -> tuple[list[int], int]:
        """``( a op b )`` and its value mod m."""
        tok = self._id
        value = ((va + vb) if op == 0 else (va - vb) if op == 1 else (va * vb)) % self.m
        return [tok["("]] + a + [tok[OPERATORS[op]]] + b + [tok[")"]], value

    def sample_batch(self, batch: int, length: int, generator: torch.Generator) -> Batch:
        """``batch`` expressions of ``length`` tokens, labeled at the last position only."""
        check_size(batch, length)
        rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
        x = torch.empty(batch, length, dtype=torch.int64)
        y = torch.zeros(batch, length, dtype=torch.int64)
        for i in range(batch):
            words, value = self.expression(length, rng)
            x[i] = torch.tensor(words)
            y[i, -1] = value
        mask = torch.zeros(batch, length, dtype=torch.bool)
        mask[:, -1] = True
        return Batch(x, y, mask)

    def position_tokens(self) -> None:
        return None

    def device_sampler(self):
        return self.device_words

    def device_words(self, draw: Draw, lengths: torch.Tensor, max_len: int) -> Batch:
        """Expressions of the given lengths, drawn as :meth:`expression` draws them, on the device.

        Args:
            draw: ``draw(purpose) -> int64 [R, B, T]`` hashes (:data:`statetrack.tasks.base.Draw`);
                a segment starting at position s reads its left length, operator and digit from
                ``draw(_SPLIT | _OP | _DIGIT)[..., s]`` (left ``1 + floor(u (L - 4) / 2^32)``, operator
                ``u mod 3``, digit ``u mod m``).
            lengths: int64 ``[R, B]``, each in ``1 .. max_len``.
            max_len: T.

        Returns:
            :class:`Batch` of ``[R, B, T]``: tokens (0 past each word's end), the value mod m at the
            word's last position and the mask True there alone. ``levels(T) - 1`` iterations down
            (splitting every pending segment of a level) and as many up (values), each over the whole
            ``[R, B, T]`` tensor; no host synchronization.
        """
        m, T = self.m, max_len
        plus, minus, open_, close = self._id["+"], self._id["-"], self._id["("], self._id[")"]
        u_split, u_op, u_digit = draw(_SPLIT), draw(_OP), draw(_DIGIT)                # (R, B, T) each
        digit, op = u_digit % m, u_op % 3
        pos = torch.arange(T, device=lengths.device)                                  # (T,)
        zero = torch.zeros_like(u_split)

        def shift(v: torch.Tensor, k: int) -> torch.Tensor:                           # v[s] moved to s + k
            return torch.nn.functional.pad(v, (k, 0))[..., :T]

        def put(v: torch.Tensor, at: torch.Tensor) -> torch.Tensor:                  # v[s] moved to at[s]
            return zero.scatter_add(-1, at.clamp(0, T - 1).expand_as(v), v)          # (v is 0 off segments)

        # down: the segments of each level; seg holds the pending ones' lengths at their starts
        seg = torch.where(pos == 0, lengths[..., None], 0)                            # (R, B, T)
        size, left_at = zero, zero                      # every segment's length and left operand's length
        for _ in range(levels(T) - 1):                  # the last level holds leaves only
            split = seg >= 5
            left = (1 + (u_split * (seg - 4).clamp(min=0) >> 32)) * split             # uniform in 1..L-4
            right = (seg - left - 3) * split
            size, left_at = size + seg, left_at + left
            seg = shift(left, 1) + put(right, pos + 2 + left)                         # E1 at s + 1, E2 after op
        size = size + seg
        # tokens, every segment at once: leaves d, - d, ( d ), ( - d ); splits ( E1 op E2 )
        leaf_neg = (size == 2) | (size == 4)
        x = torch.where(size == 1, digit, torch.where(size == 2, minus, torch.where(size > 0, open_, 0)))
        x = x + shift(torch.where((size == 2) | (size == 3), digit, torch.where(size == 4, minus, 0)), 1)
        x = x + shift(torch.where(size == 4, digit, 0), 2)
        closing = torch.where(size >= 3, close, 0)                                    # at s + L - 1
        operator = torch.where(size >= 5, plus + op, 0)                               # at s + 1 + left
        at = torch.cat([pos + size - 1, pos + 1 + left_at], -1).clamp(0, T - 1)       # (R, B, 2T)
        x = x.scatter_add(-1, at, torch.cat([closing, operator], -1))
        # up: after k iterations, every split of height <= k has its value
        val = torch.where(leaf_neg, (-digit) % m, digit)                              # leaves; splits below
        is_split = size >= 5
        at_a = (pos + 1).clamp(max=T - 1).expand_as(val)
        at_b = (pos + 2 + left_at).clamp(max=T - 1)
        r = torch.arange(m, device=pos.device)
        table = torch.stack([r[:, None] + r, r[:, None] - r, r[:, None] * r]).reshape(-1) % m   # (3 m m,): a op b
        op_m = op * m
        for _ in range(levels(T) - 1):
            both = table[(op_m + val.gather(-1, at_a)) * m + val.gather(-1, at_b)]
            val = torch.where(is_split, both, val)
        end = pos == lengths[..., None] - 1                                           # (R, B, T)
        return Batch(x, torch.where(end, val[..., :1], 0), end)

    def device_words_ref(self, draw: Draw, lengths: torch.Tensor, max_len: int) -> Batch:
        """:meth:`device_words` by recursion, word by word in Python (the slow twin: same draws, same
        signature, same result); each segment reads its draws at its start as :meth:`expression`
        reads its generator."""
        m, T = self.m, max_len
        u_split, u_op, u_digit = (draw(k).tolist() for k in (_SPLIT, _OP, _DIGIT))
        R, B = lengths.shape
        x = torch.zeros(R, B, T, dtype=torch.int64)
        y = torch.zeros(R, B, T, dtype=torch.int64)
        mask = torch.zeros(R, B, T, dtype=torch.bool)

        def build(r: int, b: int, s: int, n: int) -> tuple[list[int], int]:
            d = u_digit[r][b][s] % m
            if n < 5:
                return self._short(n, d)
            left = 1 + (u_split[r][b][s] * (n - 4) >> 32)              # uniform in 1..n-4
            e1, v1 = build(r, b, s + 1, left)
            e2, v2 = build(r, b, s + 2 + left, n - left - 3)
            return self._combine(e1, v1, u_op[r][b][s] % 3, e2, v2)

        for r in range(R):
            for b in range(B):
                n = int(lengths[r, b])
                words, value = build(r, b, 0, n)
                x[r, b, :n] = torch.tensor(words)
                y[r, b, n - 1], mask[r, b, n - 1] = value, True
        return Batch(x.to(lengths.device), y.to(lengths.device), mask.to(lengths.device))

    def automaton(self):
        raise TaskError("modular_arithmetic_brackets is context-free, not regular: it has no automaton "
                        "(no probes, no extraction)")

    @property
    def n_states(self) -> int | None:
        return None

    def states(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.full(inputs.shape, -1, dtype=torch.int64)

