"""NAN304 large-init-scale: initialisers far above 1/sqrt(fan_in), unscaled random parameters."""

from __future__ import annotations

from tests.helpers import codes, lint


def fan_in(scale: str, ratio: str, fan: int, reference: str) -> str:
    return (
        f"initial weight scale {scale} is {ratio}x the 1/sqrt(fan_in) scale for fan-in {fan}: activations grow "
        f"layer by layer until they overflow; use std ~ 1/sqrt(fan_in) ({reference}) or a kaiming/xavier "
        "initialiser"
    )


def absolute(scale: str, limit: str = "1") -> str:
    return (
        f"initial weight scale {scale} is above {limit}: activations grow layer by layer until they overflow; "
        "use std ~ 1/sqrt(fan_in) or a kaiming/xavier initialiser"
    )


def test_torch_initialisers_with_a_known_fan_in():
    source = """\
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(1024, 10)
                self.conv = nn.Conv2d(256, 64, 3)
                self.wide = nn.Linear(512, 512)
                nn.init.normal_(self.fc.weight, 0, 1.0)
                nn.init.normal_(self.conv.weight, std=0.5)
                self.wide.weight.data.uniform_(-1, 1)
                self.fc.weight.data.normal_(0, 0.02)
                nn.init.normal_(self.fc.bias, 0, 1)
        """
    assert lint(source, "NAN304") == [
        ("NAN304", 9, 44, fan_in("1", "32", 1024, "0.031")),
        ("NAN304", 10, 47, fan_in("0.5", "24", 2304, "0.021")),
        ("NAN304", 11, 9, fan_in("0.577", "13", 512, "0.044")),
    ]


def test_unscaled_random_parameters():
    source = """\
        import math
        import tensorflow as tf
        import torch
        import torch.nn as nn

        class Layer(nn.Module):
            def __init__(self, n_in, n_out):
                super().__init__()
                self.w = nn.Parameter(torch.randn(512, 256))
                self.scaled = nn.Parameter(torch.randn(n_in, n_out) / math.sqrt(n_in))
                self.small = nn.Parameter(torch.randn(512, 256) * 0.02)
                self.cls = nn.Parameter(torch.randn(1, 1, 768))
                self.bias = nn.Parameter(torch.randn(512))
                self.big = nn.Parameter(torch.randn(64, 64) * 10)

        W1 = tf.Variable(tf.random.normal([784, 256]))
        W2 = torch.randn(784, 128, requires_grad=True)
        data = torch.randn(1000, 1000)
        """
    assert lint(source, "NAN304") == [
        ("NAN304", 9, 31, fan_in("1", "16", 256, "0.062")),
        ("NAN304", 14, 33, fan_in("10", "80", 64, "0.12")),
        ("NAN304", 16, 18, fan_in("1", "16", 256, "0.062")),
        ("NAN304", 17, 6, fan_in("1", "11", 128, "0.088")),
    ]


def test_initialiser_objects_without_a_fan_in_use_the_absolute_limit():
    source = """\
        import flax.linen as nn
        import jax
        import tensorflow as tf
        from tensorflow import keras

        a = keras.initializers.RandomNormal(stddev=2.0)
        b = keras.layers.Dense(64, kernel_initializer=keras.initializers.TruncatedNormal(mean=0.0, stddev=0.05))
        c = nn.Dense(64, kernel_init=nn.initializers.normal(10.0))
        d = jax.nn.initializers.normal(stddev=1.5)
        e = tf.compat.v1.truncated_normal_initializer(stddev=3.0)
        f = keras.initializers.RandomUniform(minval=-5, maxval=5)
        g = nn.initializers.normal(1.0)
        """
    assert lint(source, "NAN304") == [
        ("NAN304", 6, 44, absolute("2")),
        ("NAN304", 8, 53, absolute("10")),
        ("NAN304", 9, 39, absolute("1.5")),
        ("NAN304", 10, 54, absolute("3")),
        ("NAN304", 11, 5, absolute("2.89")),
    ]


def test_options():
    source = """\
        import torch.nn as nn

        fc = nn.Linear(1024, 1024)
        nn.init.normal_(fc.weight, std=0.1)
        emb = nn.Embedding(1000, 64)
        nn.init.normal_(emb.weight, std=1.5)
        """
    # std 0.1 is 3.2x 1/sqrt(1024): within the default factor 5; the embedding's 1.5 is above max_std 1.
    assert [line for _, line, _, _ in lint(source, "NAN304")] == [6]
    assert codes(source, "NAN304", rule_options={"NAN304": {"fan-in-factor": 4.0, "max-std": 2.0}}) == []
    assert codes(source, "NAN304", rule_options={"NAN304": {"fan-in-factor": 3.0}}) == ["NAN304", "NAN304"]


def test_common_good_initialisations_are_clean():
    source = """\
        import torch.nn as nn

        class Model(nn.Module):
            def __init__(self):
                super().__init__()
                self.proj = nn.Linear(768, 768)
                self.emb = nn.Embedding(50000, 768)
                nn.init.normal_(self.proj.weight, std=0.02)
                nn.init.normal_(self.emb.weight, 0, 1)
                nn.init.kaiming_normal_(self.proj.weight)
                nn.init.xavier_uniform_(self.proj.weight)
                self.proj.weight.data.uniform_(-0.05, 0.05)

            def _init_weights(self, module):
                if isinstance(module, nn.Linear):
                    module.weight.data.normal_(mean=0.0, std=0.02)
        """
    assert codes(source, "NAN304") == []


def test_an_init_function_is_judged_by_the_layers_it_reaches():
    source = """\
        import torch.nn as nn

        class ConvBlock(nn.Module):
            def __init__(self, n_in, n_out, kernel_size, stride=1):
                super().__init__()
                self.model = nn.Sequential(nn.Conv2d(n_in, n_out, kernel_size=kernel_size, stride=stride), nn.ReLU())
                self.model.apply(gaussian_init)

        class Discriminator(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(ConvBlock(256, 256, kernel_size=7), ConvBlock(256, 256, 3, 2))
                self.head = nn.Linear(256, 1)

        def gaussian_init(m):
            classname = m.__class__.__name__
            if classname.find("Conv") != -1:
                nn.init.normal_(m.weight, 0.0, 0.2)
            elif classname.find("BatchNorm") != -1:
                nn.init.normal_(m.weight.data, 1.0, 0.02)

        def linear_init(m):
            if isinstance(m, (nn.Linear, nn.Embedding)):
                m.weight.data.normal_(0.0, 0.02)
        """
    assert lint(source, "NAN304") == [("NAN304", 18, 40, fan_in("0.2", "22", 12544, "0.0089"))]
    assert codes(source.replace("0.0, 0.2)", "0.0, 0.02)"), "NAN304") == []
