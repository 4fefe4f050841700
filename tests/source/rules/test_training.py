"""NAN301 high-learning-rate and NAN302 missing-gradient-clipping, in torch, Keras/TF, TF1 and JAX/optax."""

from __future__ import annotations

import textwrap

import pytest

from tests.helpers import codes, lint


def high(rate: str, name: str, family: str, limit: str, what: str = "learning rate") -> str:
    return (
        f"{what} {rate} of {name} is too high (limit {limit} for {family}-type optimizers): updates overshoot "
        "and the loss diverges to inf/NaN; lower it or clip gradients"
    )


def high_clipped(rate: str, name: str, limit: str, what: str = "learning rate") -> str:
    return (
        f"{what} {rate} of {name} is too high even with gradient clipping (limit {limit}): updates overshoot "
        "and the loss diverges to inf/NaN; lower it"
    )


NO_CLIPPING = (
    "recurrent model trained without gradient clipping: gradients that explode through time turn the "
    "weights inf/NaN; clip the gradients' global norm before this step (clip_grad_norm_, clipnorm=, "
    "optax.clip_by_global_norm)"
)

# --- NAN301 ---------------------------------------------------------------------------------


def test_torch_optimizers_keyword_and_positional():
    source = """\
        import torch
        from torch import optim

        def build(model):
            a = torch.optim.SGD(model.parameters(), lr=20)
            b = optim.Adam(model.parameters(), 0.5)
            c = torch.optim.AdamW(model.parameters(), lr=3e-4)
            d = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            return a, b, c, d
        """
    assert lint(source, "NAN301") == [
        ("NAN301", 5, 9, high("20", "SGD", "SGD", "10")),
        ("NAN301", 6, 9, high("0.5", "Adam", "Adam", "0.1")),
    ]


def test_adadelta_at_its_default_scale_is_clean():
    source = """\
        import torch

        def build(model):
            a = torch.optim.Adadelta(model.parameters(), lr=1.0)
            b = torch.optim.LBFGS(model.parameters(), lr=1)
            c = torch.optim.Adadelta(model.parameters(), lr=20.0)
            return a, b, c
        """
    assert lint(source, "NAN301") == [("NAN301", 6, 9, high("20", "Adadelta", "Adadelta", "10"))]


WORD_LANGUAGE_MODEL = """\
import argparse

import torch
import torch.nn as nn

parser = argparse.ArgumentParser(description="word-level language model")
parser.add_argument("--lr", type=float, default=20, help="initial learning rate")
parser.add_argument("--clip", type=float, default=0.25, help="gradient clipping")
args = parser.parse_args()


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid):
        super().__init__()
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid)
        self.decoder = nn.Linear(nhid, ntoken)


model = RNNModel(10000, 200, 200)
criterion = nn.NLLLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)


def train(batches):
    for data, targets in batches:
        model.zero_grad()
        output = model(data)
        loss = criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimizer.step()
"""


def test_word_language_model_with_clipping_is_quiet():
    assert codes(WORD_LANGUAGE_MODEL, ("NAN301", "NAN302")) == []


def test_word_language_model_without_clipping():
    source = WORD_LANGUAGE_MODEL.replace("        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)\n", "")
    assert lint(source, ("NAN301", "NAN302")) == [
        ("NAN301", 22, 13, high("20", "SGD", "SGD", "10")),
        ("NAN302", 31, 9, NO_CLIPPING),
    ]


def test_clipping_raises_the_limit_but_not_forever():
    source = """\
        import torch

        def build(model):
            torch.nn.utils.clip_grad_value_(model.parameters(), 1.0)
            return torch.optim.SGD(model.parameters(), lr=2000)
        """
    assert lint(source, "NAN301") == [("NAN301", 5, 12, high_clipped("2000", "SGD", "1000"))]
    assert codes(source, "NAN301", rule_options={"NAN301": {"clipping-factor": 1000.0}}) == []


def test_thresholds_are_options():
    source = """\
        import torch

        def build(model):
            return torch.optim.Adam(model.parameters(), lr=0.05)
        """
    assert codes(source, "NAN301") == []
    assert lint(source, "NAN301", rule_options={"NAN301": {"thresholds": {"Adam": 0.01}}}) == [
        ("NAN301", 4, 12, high("0.05", "Adam", "Adam", "0.01"))
    ]


def test_values_through_constants_parameters_configs_and_flags():
    source = """\
        import torch
        from absl import flags

        LR = 1.0
        flags.DEFINE_float("learning_rate", 5.0, "step size")
        FLAGS = flags.FLAGS
        cfg = {"optim": {"lr": 2.0}}
        hp = dict(lr=3.0)

        def build(model, lr=4.0):
            a = torch.optim.Adam(model.parameters(), lr=LR)
            b = torch.optim.Adam(model.parameters(), lr=lr)
            c = torch.optim.Adam(model.parameters(), lr=cfg["optim"]["lr"])
            d = torch.optim.Adam(model.parameters(), lr=hp["lr"])
            e = torch.optim.Adam(model.parameters(), lr=FLAGS.learning_rate)
            f = torch.optim.Adam(model.parameters(), lr=cfg.get("lr", 6.0))
            g = torch.optim.Adam(model.parameters(), lr=unknown)
            return a, b, c, d, e, f, g
        """
    found = lint(source, "NAN301")
    assert [(line, message.split(" of ")[0]) for _, line, _, message in found] == [
        (11, "learning rate 1"),
        (12, "learning rate 4"),
        (13, "learning rate 2"),
        (14, "learning rate 3"),
        (15, "learning rate 5"),
        (16, "learning rate 6"),
    ]


def test_flag_defined_after_its_use():
    source = """\
        import argparse
        import torch

        def build(model, args):
            return torch.optim.RMSprop(model.parameters(), lr=args.learning_rate)

        def parse():
            parser = argparse.ArgumentParser()
            parser.add_argument("--learning-rate", "-l", type=float, default=0.5)
            return parser.parse_args()
        """
    assert lint(source, "NAN301") == [("NAN301", 5, 12, high("0.5", "RMSprop", "RMSprop", "0.1"))]


def test_keras_and_tf1_optimizers():
    source = """\
        import tensorflow as tf
        from tensorflow import keras

        a = keras.optimizers.SGD(learning_rate=50.0)
        b = tf.keras.optimizers.Adam(lr=1.0)
        c = tf.compat.v1.train.AdamOptimizer(0.6)
        d = tf.compat.v1.train.GradientDescentOptimizer(0.6)
        e = keras.optimizers.RMSprop(0.001)
        """
    assert lint(source, "NAN301") == [
        ("NAN301", 4, 5, high("50", "SGD", "SGD", "10")),
        ("NAN301", 5, 5, high("1", "Adam", "Adam", "0.1")),
        ("NAN301", 6, 5, high("0.6", "AdamOptimizer", "Adam", "0.1")),
    ]


def test_schedules_report_their_peak():
    source = """\
        import optax
        import torch
        from tensorflow import keras

        schedule = optax.warmup_cosine_decay_schedule(0.0, 1.0, 100, 1000)
        tx = optax.adamw(learning_rate=schedule)
        decay = keras.optimizers.schedules.ExponentialDecay(0.5, 1000, 0.9)
        opt = keras.optimizers.Adam(learning_rate=decay)
        steps = keras.optimizers.schedules.PiecewiseConstantDecay([10, 20], [0.01, 0.2, 0.001])
        opt2 = keras.optimizers.Adam(steps)

        def build(model):
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            sched = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3.0, total_steps=100)
            ok = optax.adam(optax.linear_schedule(1e-4, 1e-3, 100))
            return sched, ok
        """
    assert lint(source, "NAN301") == [
        ("NAN301", 6, 6, high("1", "adamw", "Adam", "0.1", "peak learning rate")),
        ("NAN301", 8, 7, high("0.5", "Adam", "Adam", "0.1", "peak learning rate")),
        ("NAN301", 10, 8, high("0.2", "Adam", "Adam", "0.1", "peak learning rate")),
        ("NAN301", 14, 13, high("3", "OneCycleLR", "Adam", "0.1", "peak learning rate")),
    ]


def test_optax_chain_with_clipping():
    source = """\
        import optax

        tx = optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(learning_rate=50.0))
        """
    assert codes(source, "NAN301") == []
    assert codes(source.replace("optax.clip_by_global_norm(1.0), ", ""), "NAN301") == ["NAN301"]


def test_keras_clipnorm_counts_as_clipping_but_none_does_not():
    source = """\
        from tensorflow import keras

        opt = keras.optimizers.SGD(learning_rate=50.0, clipnorm={clip})
        """
    assert codes(source.format(clip="1.0"), "NAN301") == []
    assert codes(source.format(clip="None"), "NAN301") == ["NAN301"]


# --- NAN302 ---------------------------------------------------------------------------------


def test_torch_rnn_without_clipping_is_reported_at_the_step():
    source = """\
        import torch
        import torch.nn as nn

        class Tagger(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(32, 64, batch_first=True)
                self.out = nn.Linear(64, 10)

        model = Tagger()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        scheduler = torch.optim.lr_scheduler.StepLR(opt, 10)
        scaler = torch.cuda.amp.GradScaler()

        for x, y in data:
            loss = model(x, y)
            scaler.scale(loss).backward()
            scaler.step(opt)
            opt.step()
            scheduler.step()
        """
    assert lint(source, "NAN302") == [("NAN302", 18, 5, NO_CLIPPING), ("NAN302", 19, 5, NO_CLIPPING)]


@pytest.mark.parametrize(
    "clipping",
    [
        "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)",
        "torch.nn.utils.clip_grad_value_(model.parameters(), 0.5)",
        "accelerator.clip_grad_norm_(model.parameters(), 1.0)",
        "for p in model.parameters():\n    p.grad.data.clamp_(-1, 1)",
        "trainer = Trainer(gradient_clip_val=0.5)",
        "config = {'gradient_clipping': 1.0}",
    ],
)
def test_any_clipping_in_the_module_silences_it(clipping):
    source = (
        "import torch\nmodel = torch.nn.LSTM(8, 8)\noptimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        + clipping
        + "\noptimizer.step()\n"
    )
    assert codes(source, "NAN302") == []


def test_inference_only_and_non_recurrent_modules_are_clean():
    inference = """\
        import torch

        model = torch.nn.LSTM(8, 16)
        with torch.no_grad():
            out, _ = model(torch.zeros(5, 1, 8))
        """
    feedforward = """\
        import torch

        model = torch.nn.Linear(8, 16)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        optimizer.step()
        """
    assert codes(inference, "NAN302") == []
    assert codes(feedforward, "NAN302") == []


def test_keras_fit_and_gradient_tape():
    source = """\
        import tensorflow as tf
        from tensorflow import keras
        from tensorflow.keras import layers

        model = keras.Sequential([layers.Embedding(1000, 64), layers.LSTM(128), layers.Dense(10)])
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
        model.fit(x, y, epochs=3)

        optimizer = keras.optimizers.Adam(1e-3)
        with tf.GradientTape() as tape:
            loss = model(x)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        """
    assert lint(source, "NAN302") == [("NAN302", 7, 1, NO_CLIPPING), ("NAN302", 13, 1, NO_CLIPPING)]
    clipped = source.replace("keras.optimizers.Adam(1e-3), loss", "keras.optimizers.Adam(1e-3, clipnorm=1.0), loss")
    assert codes(clipped, "NAN302") == []
    clipped = textwrap.dedent(source).replace(
        "optimizer.apply_gradients(zip(grads",
        "grads, _ = tf.clip_by_global_norm(grads, 5.0)\noptimizer.apply_gradients(zip(grads",
    )
    assert codes(clipped, "NAN302") == []


def test_flax_and_optax():
    source = """\
        import flax.linen as nn
        import optax

        class Model(nn.Module):
            @nn.compact
            def __call__(self, x):
                return nn.RNN(nn.OptimizedLSTMCell(64))(x)

        tx = optax.adam(1e-3)

        def step(params, opt_state, grads):
            updates, opt_state = tx.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        def train_step(state, grads):
            return state.apply_gradients(grads=grads)
        """
    assert lint(source, "NAN302") == [("NAN302", 13, 12, NO_CLIPPING), ("NAN302", 16, 12, NO_CLIPPING)]
    clipped = source.replace("optax.adam(1e-3)", "optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-3))")
    assert codes(clipped, "NAN302") == []


def test_a_recurrent_layer_elsewhere_says_nothing_about_this_optimizer():
    source = """\
        import torch
        import torch.nn as nn

        class Encoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.gru = nn.GRU(32, 64)

        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(64, 10)

        encoder = Encoder()
        classifier = Classifier()
        opt_enc = torch.optim.Adam(encoder.parameters(), lr=1e-3)
        opt_cls = torch.optim.Adam(classifier.parameters(), lr=1e-3)

        def step(loss, batch_opt):
            loss.backward()
            opt_cls.step()
            opt_enc.step()
            batch_opt.step()
        """
    assert lint(source, "NAN302") == [("NAN302", 22, 5, NO_CLIPPING)]


def test_recurrence_is_followed_through_the_classes_a_model_builds():
    source = """\
        import torch
        import torch.nn as nn

        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.cell = nn.LSTMCell(16, 16)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.blocks = nn.ModuleList([Block() for _ in range(3)])

        class LitNet(Net):
            def training_step(self, batch, optimizer):
                opt = torch.optim.SGD(self.parameters(), lr=0.1)
                opt.step()

        net = Net()
        optimizer = torch.optim.SGD([{"params": net.parameters(), "lr": 0.1}], lr=0.1)
        optimizer.step()
        """
    assert lint(source, "NAN302") == [("NAN302", 17, 9, NO_CLIPPING), ("NAN302", 21, 1, NO_CLIPPING)]


def test_keras_functional_models_and_unrelated_fits():
    source = """\
        from tensorflow import keras
        from tensorflow.keras import layers

        inputs = keras.Input((10, 8))
        hidden = layers.Bidirectional(layers.LSTM(16))(inputs)
        recurrent = keras.Model(inputs, layers.Dense(1)(hidden))
        recurrent.compile(optimizer="adam", loss="mse")
        recurrent.fit(x, y)

        flat = keras.Input((8,))
        dense = keras.Model(flat, layers.Dense(1)(flat))
        dense.compile(optimizer="adam", loss="mse")
        dense.fit(x, y)
        """
    assert lint(source, "NAN302") == [("NAN302", 8, 1, NO_CLIPPING)]


SEQUENCE = (
    "sequence model (called with sequence lengths, as recurrent models are) trained without gradient clipping: "
    "gradients that explode through time turn the weights inf/NaN; clip the gradients' global norm before this "
    "step (clip_grad_norm_, clipnorm=, optax.clip_by_global_norm)"
)


def test_a_model_fed_sequence_lengths_in_a_training_loop():
    source = """\
        import torch

        def train_epoch(model, dataloader, criterion, optimizer):
            for tokens, labels, lengths in dataloader:
                logits = model(tokens, lengths)
                loss = criterion(logits, labels)
                loss.backward()
                optimizer.step()

        def train_images(model, dataloader, criterion, optimizer):
            for images, labels in dataloader:
                loss = criterion(model(images), labels)
                loss.backward()
                optimizer.step()
        """
    assert lint(source, "NAN302") == [("NAN302", 8, 9, SEQUENCE)]
    clipped = textwrap.dedent(source).replace(
        "        optimizer.step()\n\ndef train_images",
        "        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n        optimizer.step()\n\ndef train_images",
    )
    assert codes(clipped, "NAN302") == []


def test_an_untied_step_in_a_module_with_other_models_is_quiet():
    source = """\
        import torch.nn as nn

        class Tagger(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(8, 8)

        class Scorer(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(8, 1)

        def step(optimizer, loss):
            loss.backward()
            optimizer.step()
        """
    assert codes(source, "NAN302") == []


def test_adam_on_a_few_tensors_optimised_directly():
    source = """\
        import torch

        def refine(latent, model):
            a = torch.optim.Adam([latent], lr=0.2)
            b = torch.optim.Adam([model.weight], lr=0.2)
            c = torch.optim.SGD([latent], lr=50)
            return a, b, c
        """
    assert lint(source, "NAN301") == [
        ("NAN301", 5, 9, high("0.2", "Adam", "Adam", "0.1")),
        ("NAN301", 6, 9, high("50", "SGD", "SGD", "10")),
    ]


@pytest.mark.parametrize(
    "test_import",
    [
        "import pytest",
        "from absl.testing import parameterized",
        "from keras.src import testing",
        "from tensorflow.python.framework import test_util",
        "from transformers.testing_utils import require_torch",
    ],
)
def test_training_setup_is_not_judged_in_test_modules(test_import):
    """A test runs a few fixed steps, often diverging on purpose (a NaN-termination test); it does not train."""
    body = "import torch\nopt = torch.optim.SGD(model.parameters(), lr=1e9)\n"
    assert codes(body) == ["NAN301"]
    assert codes(f"{test_import}\n{body}") == []


@pytest.mark.parametrize(
    "look_alike", ["from mylib import test_data_loader", "import testbed", "from ops import attest"]
)
def test_modules_that_only_sound_like_tests_still_count(look_alike):
    assert codes(f"{look_alike}\nimport torch\nopt = torch.optim.SGD(model.parameters(), lr=1e9)\n") == ["NAN301"]
