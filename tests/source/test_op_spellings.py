"""Op spellings of frameworks and namespaces beyond the main ones: MXNet, Theano, Keras 3's own backend
namespaces, TensorFlow's squared_difference, and a dot product of a tensor with itself (a sum of squares)."""

from __future__ import annotations

import pytest

from tests.helpers import lint

SQUARE_SUM = (
    "division by a sum of squares, which is 0 for a zero vector: inf or NaN there; add an eps (x / (d + eps)) "
    "or clamp it (d.clamp(min=eps))"
)
NORM = (
    "division by a norm, which is 0 for a zero vector: inf or NaN there; clamp the norm (norm.clamp(min=eps)) "
    "or use a normalize function, which has its own eps"
)
SQRT_OF_SQUARES = (
    "sqrt of a sum of squares with no eps inside: its gradient is infinite at 0 (NaN in training); add the eps "
    "inside the sqrt (sqrt(v + eps)) or use a norm function"
)
RSQRT_OF_SQUARES = "rsqrt of a sum of squares with no eps inside is inf at 0; add the eps inside (rsqrt(v + eps))"
LOG_SOFTMAX = (
    "log of softmax: -inf (and NaN gradients) when a probability underflows to 0, and imprecise before that; "
    "use log_softmax"
)


def findings(source: str, select: str | tuple[str, ...]):
    return [(code, line, column, message) for code, line, column, message in lint(source, select)]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ndef f(x):\n    return x / x.dot(x)\n",
        "import numpy as np\ndef f(v):\n    return v / np.vdot(v, v)\n",
        "import numpy as np\ndef f(v):\n    return v / np.inner(v, v)\n",
        "from keras import backend as K\ndef f(h):\n    return h / K.batch_dot(h, h)\n",
        "import mxnet as mx\ndef f(h):\n    return h / mx.nd.dot(h, h)\n",
    ],
)
def test_a_dot_product_of_a_tensor_with_itself_is_a_sum_of_squares(source):
    assert findings(source, "NAN105") == [("NAN105", 3, 12, SQUARE_SUM)]


@pytest.mark.parametrize(
    "source",
    [
        "import torch\ndef f(x, y):\n    return x / x.dot(y)\n",  # two tensors: no sum of squares
        "import torch\ndef f(x):\n    return x / (x.dot(x) + 1e-8)\n",
        "import torch\ndef f(x):\n    return x / x.dot(x).clamp(min=1e-8)\n",
        "import torch\ndef f(x):\n    return x / torch.matmul(x, x.T)\n",  # a Gram matrix, not the same operand
        "from keras import backend as K\ndef f(a, b):\n    return a / K.batch_dot(a, b)\n",
        "import torch\ndef f(x, w):\n    return x / torch.einsum('i,i,i->', x, x, w)\n",  # not only x's squares
    ],
)
def test_dot_look_alikes_are_silent(source):
    assert findings(source, "NAN105") == []


def test_cosine_by_batch_dots_divides_by_a_norm():
    source = """\
        from keras import backend as K
        def cos(l1, l2, axes):
            denominator = K.sqrt(K.batch_dot(l1, l1, axes) * K.batch_dot(l2, l2, axes))
            return K.batch_dot(l1, l2, axes) / denominator
        """
    one_finding = (  # the sqrt only feeds the denominator: one finding, at the division, with the eps inside
        "division by a norm, which is 0 for a zero vector: inf or NaN there, and the sqrt's gradient is infinite at 0 "
        "(NaN in training); add the eps inside the sqrt (sqrt(v + eps))"
    )
    assert findings(source, ("NAN105", "NAN106")) == [("NAN105", 4, 12, one_finding)]
    assert findings(source, "NAN106") == [("NAN106", 3, 19, SQRT_OF_SQUARES)]


def test_squared_difference_is_a_square_of_a_difference():
    source = """\
        import tensorflow as tf
        def distance(x1, x2):
            return tf.sqrt(tf.reduce_sum(tf.math.squared_difference(x1, x2), axis=-1))
        def safe(x1, x2):
            return tf.sqrt(tf.reduce_sum(tf.math.squared_difference(x1, x2), axis=-1) + 1e-12)
        """
    assert findings(source, "NAN106") == [("NAN106", 3, 12, SQRT_OF_SQUARES)]


def test_keras_3_internal_backend_namespaces_are_its_ops():
    source = """\
        from keras.src import backend
        def normalize(x, epsilon):
            square_sum = backend.numpy.sum(backend.numpy.square(x), axis=-1, keepdims=True)
            return x * backend.math.rsqrt(square_sum)
        def normalize_safely(x, epsilon):
            square_sum = backend.numpy.sum(backend.numpy.square(x), axis=-1, keepdims=True)
            return x * backend.math.rsqrt(backend.numpy.maximum(square_sum, epsilon))
        """
    assert findings(source, "NAN106") == [("NAN106", 4, 16, RSQRT_OF_SQUARES)]


def test_theano_tensor_speaks_numpy():
    source = """\
        from theano import tensor as T
        def softmax(x, axis):
            return T.exp(x) / T.exp(x).sum(axis=axis, keepdims=True)
        def stable(x, axis):
            e = T.exp(x - x.max(axis=axis, keepdims=True))
            return e / e.sum(axis=axis, keepdims=True)
        """
    assert [(code, line) for code, line, _, _ in findings(source, "NAN101")] == [("NAN101", 3)]


@pytest.mark.parametrize(
    "source",
    [
        "import mxnet as mx\ndef f(x):\n    return mx.nd.log(mx.nd.softmax(x))\n",
        "import mxnet as mx\ndef f(x):\n    return mx.sym.log(mx.sym.softmax(x))\n",
        "from mxnet import ndarray as nd\ndef f(x):\n    return nd.log(nd.softmax(x))\n",
    ],
)
def test_mxnet_imperative_and_symbolic_namespaces(source):
    assert findings(source, "NAN102") == [("NAN102", 3, 12, LOG_SOFTMAX)]


def test_mxnet_log_softmax_is_silent():
    assert findings("import mxnet as mx\ndef f(x):\n    return mx.nd.log_softmax(x)\n", "NAN102") == []


NONNEGATIVE_SUM = (
    "division by a sum of non-negative values, which is 0 when they all are: inf or NaN there; add an eps "
    "(x / (d + eps)) or clamp it (d.clamp(min=eps))"
)


def test_the_operand_passed_by_its_keyword():
    source = """\
        import torch
        def by_keyword(w):
            return w / torch.sum(input=torch.abs(w), dim=1, keepdim=True)
        def tf_keyword(w):
            import tensorflow as tf
            return w / tf.reduce_sum(input_tensor=tf.abs(w), axis=1, keepdims=True)
        def guarded(w):
            return w / (torch.sum(input=torch.abs(w), dim=1, keepdim=True) + 1e-8)
        """
    assert findings(source, "NAN105") == [("NAN105", 3, 12, NONNEGATIVE_SUM), ("NAN105", 6, 12, NONNEGATIVE_SUM)]


def test_a_mean_amplitude_from_a_helper_still_summarises_the_signal():
    source = """\
        import torch
        def amplitude(waveforms, lengths):
            return torch.sum(input=torch.abs(waveforms), dim=1, keepdim=True) / lengths
        def normalize(waveforms, lengths):
            den = amplitude(waveforms, lengths)
            return waveforms / den
        def rescale(waveforms, lengths, other):
            return other / amplitude(waveforms, lengths)  # not the signal it summarises: no finding
        def safe(waveforms, lengths):
            return waveforms / amplitude(waveforms, lengths).clamp(min=1e-14)
        """
    assert findings(source, "NAN105") == [("NAN105", 6, 12, NONNEGATIVE_SUM)]


def test_the_namespace_gluon_passes_to_hybrid_forward():
    source = """\
        import mxnet as mx
        from mxnet import gluon
        class Head(gluon.HybridBlock):
            def hybrid_forward(self, F, x):
                return F.log(F.softmax(x))
        class Block(mx.gluon.nn.HybridBlock):
            def hybrid_forward(self, F, x):
                return F.log_softmax(x)
        class NotABlock:
            def hybrid_forward(self, F, x):
                return F.log(F.softmax(x))
        class Renamed(gluon.HybridBlock):
            def forward(self, F, x):
                return F.log(F.softmax(x))
        """
    assert findings(source, "NAN102") == [("NAN102", 5, 16, LOG_SOFTMAX)]


def test_f_stays_torch_functional_without_mxnet():
    source = """\
        import torch
        import torch.nn.functional as F
        class Head(torch.nn.Module):
            def hybrid_forward(self, F, x):
                return torch.log(F.softmax(x, dim=-1))
        """
    assert findings(source, "NAN102") == [("NAN102", 5, 16, LOG_SOFTMAX)]
