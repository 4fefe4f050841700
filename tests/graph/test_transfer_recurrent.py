"""Soundness of RNN/GRU/LSTM bounds (by activation ranges)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.graph._soundness import Box, Case, check

rng = np.random.default_rng(3)
SEQ, BATCH, IN, H = 4, 2, 3, 5


def w(gates, *shape):
    return (rng.standard_normal((1, gates * H) + shape) * 2).astype(np.float32)


CASES = [
    Case(
        "RNN",
        [Box((SEQ, BATCH, IN)), w(1, IN), w(1, H), w(2)[..., None].reshape(1, 2 * H)],
        attrs={"hidden_size": H},
        outputs=2,
    ),
    Case(
        "GRU",
        [Box((SEQ, BATCH, IN)), w(3, IN), w(3, H), w(6).reshape(1, 6 * H), None, Box((1, BATCH, H))],
        attrs={"hidden_size": H},
        outputs=2,
    ),
    Case(
        "LSTM",
        [
            Box((SEQ, BATCH, IN)),
            w(4, IN),
            w(4, H),
            w(8).reshape(1, 8 * H),
            None,
            Box((1, BATCH, H)),
            Box((1, BATCH, H)),
        ],
        attrs={"hidden_size": H},
        outputs=3,
    ),
    Case(
        "LSTM",
        [Box((SEQ, BATCH, IN)), np.concatenate([w(4, IN), w(4, IN)]), np.concatenate([w(4, H), w(4, H)])],
        attrs={"hidden_size": H, "direction": "bidirectional"},
        outputs=3,
        name="LSTM-bidirectional",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_sound(case):
    check(case)


def test_lstm_cell_bound_grows_with_sequence_length():
    out = check(CASES[2], seeds=(0,), points=2)
    y, y_h, y_c = out["bounds"]
    assert y.max() == 1.0 and y_h.max() == 1.0
    assert y_c.max() == pytest.approx(out["inputs"]["in6"].abs_max() + SEQ)
