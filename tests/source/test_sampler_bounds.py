"""A uniform sampler's bounds, read where each framework puts them: `tf.random.uniform(shape, minval, maxval)`,
`jax.random.uniform(key, shape, dtype, minval, maxval)`; a sample from [0.1, 2) is no divisor that reaches 0."""

from __future__ import annotations

from tests.helpers import lint

UNIFORM = (
    "division by a uniform sample, which is exactly 0 now and then: inf or NaN there; add an eps (x / (d + eps)) "
    "or clamp it (d.clamp(min=eps))"
)


def test_positional_bounds_of_uniform_samplers():
    source = """\
        import jax
        import tensorflow as tf

        def blur(x, key):
            sigma = tf.random.uniform([], 0.1, 2.0, dtype=tf.float32)
            a = x / (2.0 * tf.pow(sigma, 2.0))
            b = x / tf.random.uniform([], 0.0, 2.0)
            c = x / jax.random.uniform(key, (3,), None, 0.5, 1.0)
            d = x / jax.random.uniform(key, (3,))
            e = x / tf.random.uniform([], minval=0.2, maxval=1.0)
            return a, b, c, d, e
        """
    assert [(line, column, message) for _, line, column, message in lint(source, "NAN105")] == [
        (7, 9, UNIFORM),
        (9, 9, UNIFORM),
    ]
