"""NAN305 loss-on-probabilities: probabilities into logit losses, non-log probabilities into NLL, logits into
probability losses, and BCE on sigmoid outputs where the framework has no logit shortcut."""

from __future__ import annotations

from tests.helpers import codes, lint


def double(name: str, producer: str = "softmax") -> str:
    return (
        f"{name} expects logits but gets {producer} probabilities: it applies {producer} again, gradients "
        "vanish and training stalls; pass the logits"
    )


def not_log(name: str, producer: str = "softmax") -> str:
    return (
        f"{name} expects log-probabilities but gets {producer} probabilities; use log_softmax (or cross-entropy "
        "on the logits)"
    )


def raw_into_log(name: str) -> str:
    return (
        f"{name} expects log-probabilities but gets raw logits from a linear layer: the loss is unbounded below "
        "and diverges; apply log_softmax (or use cross-entropy on the logits)"
    )


def raw_into_keras(name: str) -> str:
    return (
        f"{name} expects probabilities (from_logits=False) but gets raw logits from a linear layer: it normalises "
        "and clips them instead of applying softmax, which can divide by 0 and gives wrong gradients; pass "
        "from_logits=True"
    )


def saturating(name: str) -> str:
    return (
        f"{name} on a sigmoid output: log(sigmoid(x)) underflows for large |x|, so the loss saturates and its "
        "gradients vanish (and it cannot run in float16); pass the logits to binary_cross_entropy_with_logits"
    )


def test_torch_losses():
    source = """\
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        criterion = nn.CrossEntropyLoss()
        nll = nn.NLLLoss()
        head = nn.Linear(128, 10)

        def losses(logits, z, y, q, h):
            probs = F.softmax(logits, dim=-1)
            a = criterion(probs, y)
            b = F.cross_entropy(logits.softmax(-1), y)
            c = F.nll_loss(F.softmax(logits, dim=1), y)
            d = nll(torch.sigmoid(z), y)
            e = nn.BCELoss()(torch.sigmoid(z), y)
            f = F.binary_cross_entropy(torch.sigmoid(z), y)
            g = F.binary_cross_entropy_with_logits(torch.sigmoid(z), y)
            k = F.kl_div(F.softmax(logits, -1), q, reduction="batchmean")
            m = F.nll_loss(head(h), y)
            return a, b, c, d, e, f, g, k, m
        """
    assert lint(source, "NAN305") == [
        ("NAN305", 11, 9, double("CrossEntropyLoss")),
        ("NAN305", 12, 9, double("cross_entropy")),
        ("NAN305", 13, 9, not_log("nll_loss")),
        ("NAN305", 14, 9, not_log("NLLLoss", "sigmoid")),
        ("NAN305", 15, 9, saturating("BCELoss")),
        ("NAN305", 16, 9, saturating("binary_cross_entropy")),
        ("NAN305", 17, 9, double("binary_cross_entropy_with_logits", "sigmoid")),
        ("NAN305", 18, 9, not_log("kl_div")),
        ("NAN305", 19, 9, raw_into_log("nll_loss")),
    ]


def test_a_sequential_that_ends_in_softmax():
    source = """\
        import torch.nn as nn

        model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10), nn.Softmax(dim=1))
        criterion = nn.CrossEntropyLoss()

        def step(x, y):
            output = model(x)
            return criterion(output, y)
        """
    assert lint(source, "NAN305") == [("NAN305", 8, 12, double("CrossEntropyLoss"))]


def test_tensorflow_keras_and_optax_losses():
    source = """\
        import jax
        import optax
        import tensorflow as tf
        from tensorflow import keras

        def losses(z, y):
            a = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=tf.nn.softmax(z))
            b = tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=tf.sigmoid(z))
            c = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, tf.nn.softmax(z))
            d = optax.softmax_cross_entropy(jax.nn.softmax(z), y)
            e = optax.sigmoid_binary_cross_entropy(jax.nn.sigmoid(z), y)
            return a, b, c, d, e
        """
    assert lint(source, "NAN305") == [
        ("NAN305", 7, 9, double("softmax_cross_entropy_with_logits")),
        ("NAN305", 8, 9, double("sigmoid_cross_entropy_with_logits", "sigmoid")),
        ("NAN305", 9, 9, double("SparseCategoricalCrossentropy")),
        ("NAN305", 10, 9, double("softmax_cross_entropy")),
        ("NAN305", 11, 9, double("sigmoid_binary_cross_entropy", "sigmoid")),
    ]


def test_keras_compile_against_the_last_layer():
    source = """\
        from tensorflow import keras
        from tensorflow.keras import layers

        a = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(10)])
        a.compile(optimizer="adam", loss="sparse_categorical_crossentropy")

        inputs = keras.Input(shape=(32,))
        outputs = layers.Dense(10)(layers.Dense(64, activation="relu")(inputs))
        b = keras.Model(inputs, outputs)
        b.compile(optimizer="adam", loss=keras.losses.CategoricalCrossentropy())

        c = keras.Sequential()
        c.add(layers.Dense(64, activation="relu"))
        c.add(layers.Dense(10))
        c.compile(optimizer="adam", loss=keras.losses.categorical_crossentropy)

        d = keras.Sequential([layers.Dense(10, activation="softmax")])
        d.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        """
    assert lint(source, "NAN305") == [
        ("NAN305", 5, 34, raw_into_keras("sparse_categorical_crossentropy")),
        ("NAN305", 10, 34, raw_into_keras("CategoricalCrossentropy")),
        ("NAN305", 15, 34, raw_into_keras("categorical_crossentropy")),
        ("NAN305", 18, 34, double("SparseCategoricalCrossentropy")),
    ]


def test_matching_pairs_are_clean():
    source = """\
        import torch
        import torch.nn as nn
        import torch.nn.functional as F
        from tensorflow import keras
        from tensorflow.keras import layers

        criterion = nn.CrossEntropyLoss()

        def losses(logits, z, y, model, x):
            a = criterion(logits, y)
            b = F.nll_loss(F.log_softmax(logits, dim=-1), y)
            c = nn.BCEWithLogitsLoss()(z, y)
            d = F.cross_entropy(F.log_softmax(logits, -1), y)    # log_softmax is idempotent
            e = criterion(model(x), y)                           # unknown model output
            f = F.kl_div(F.log_softmax(logits, -1), y)
            return a, b, c, d, e, f

        m1 = keras.Sequential([layers.Dense(1, activation="sigmoid")])
        m1.compile(optimizer="adam", loss="binary_crossentropy")   # Keras recovers the logits of its sigmoid
        m2 = keras.Sequential([layers.Dense(10, activation="softmax")])
        m2.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        m3 = keras.Sequential([layers.Dense(10)])
        m3.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        bce = keras.losses.binary_crossentropy(y, keras.activations.sigmoid(z))
        """
    assert codes(source, "NAN305") == []


def test_log_of_softmax_into_nll_is_left_to_nan102():
    source = """\
        import torch
        import torch.nn.functional as F

        def loss(logits, y):
            return F.nll_loss(torch.log(F.softmax(logits, dim=-1)), y)
        """
    assert codes(source, "NAN305") == []


def test_layers_added_in_one_function_are_not_another_function_s_model():
    source = """\
        from tensorflow import keras
        from tensorflow.keras import layers

        def test_sequential():
            model = keras.Sequential()
            model.add(layers.Dense(1))
            model.compile(optimizer="adam", loss="mse")

        def test_functional():
            inputs = keras.Input(shape=(4,))
            output = layers.Dense(1, activation="sigmoid")(inputs)
            model = keras.Model(inputs=inputs, outputs=output)
            model.compile(optimizer="adam", loss="binary_crossentropy")

        def test_rebuilt_in_place():
            model = keras.Sequential()
            model.add(layers.Dense(10))
            model = keras.Model(inputs=keras.Input(shape=(4,)), outputs=layers.Dense(10, activation="softmax")(x))
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")

        net = keras.Sequential()
        net.add(layers.Dense(10))

        def fit(x, y):
            net.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        """
    assert lint(source, "NAN305") == [("NAN305", 25, 40, raw_into_keras("sparse_categorical_crossentropy"))]
