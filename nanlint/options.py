"""Every rule's options, as data: `[tool.nanlint.rules.NANxxx]` is validated (and its JSON Schema
generated) without importing either pass. Rules read their defaults from here (`Rule.option`).

Names are kebab-case; the older snake_case spellings (`max_std`) are still accepted by the
configuration loader, which maps them here through `canonical_name`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Option:
    default: Any
    help: str
    keys: tuple[str, ...] = ()  # a table option's allowed keys (empty: free-form)


# NAN301: the learning rate above which each optimizer family is reported.
LR_THRESHOLDS: dict[str, float] = {
    "SGD": 10.0,
    "Adam": 0.1,
    "RMSprop": 0.1,
    "Adagrad": 1.0,
    "Adadelta": 10.0,
    "Lion": 0.01,
    "LAMB": 0.1,
    "LARS": 100.0,
    "Rprop": 1.0,
    "LBFGS": 10.0,
    "Ftrl": 10.0,
    "Adafactor": 1.0,
}

_FIX_EPS = Option(1e-8, "the epsilon the fix adds")
_MIN_RATIO = Option(1.0, "report bounds at least this many times the dtype's max")

OPTIONS: dict[str, dict[str, Option]] = {
    "NAN104": {
        "probability-names": Option(
            ["prob", "probs", "proba", "probas", "probability", "probabilities"],
            "name stems (word boundaries, any case) taken for probabilities when nothing shows where a value comes from",
        ),
        "fix-eps": _FIX_EPS,
    },
    "NAN105": {
        "plain-sums": Option(False, "also flag division by a sum not known to be masked or rectified"),
        "fix-eps": _FIX_EPS,
    },
    "NAN109": {
        "log-scale-names": Option(
            [
                "logvar",
                "log_var",
                "log_variance",
                "log_std",
                "logstd",
                "log_stddev",
                "log_sigma",
                "logsigma",
                "log_scale",
                "logscale",
                "log_alpha",
                "logits_std",
                "log_precision",
            ],
            "name stems (word boundaries, any case) of log-scale values",
        ),
    },
    "NAN202": {
        "norm-layers": Option(True, "report the eps of normalisation layers in float16 models"),
    },
    "NAN301": {
        "thresholds": Option(
            LR_THRESHOLDS,
            "the learning rate above which each optimizer family is reported (merged over the defaults)",
            keys=tuple(LR_THRESHOLDS),
        ),
        "clipping-factor": Option(100.0, "how much higher the thresholds are when gradients are clipped"),
    },
    "NAN304": {
        "max-std": Option(1.0, "the scale above which any initialiser is reported"),
        "fan-in-factor": Option(5.0, "how many times 1/sqrt(fan_in) a scale may be"),
    },
    "NAN601": {"min-ratio": _MIN_RATIO},
    "NAN701": {"min-ratio": _MIN_RATIO},
    "NAN702": {"max-epsilon": Option(1e-3, "the largest constant treated as an epsilon guard")},
}


def default(code: str, name: str) -> Any:
    return OPTIONS[code][name].default


def canonical_name(name: str) -> str:
    """The kebab-case spelling of an option name (`max_std` -> `max-std`)."""
    return name.replace("_", "-")


def schema() -> dict[str, dict[str, Any]]:
    """code -> option -> default: what the configuration loader validates values against."""
    return {code: {name: option.default for name, option in options.items()} for code, options in OPTIONS.items()}
