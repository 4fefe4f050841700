"""Evidence from names: what a variable's name says about a value whose origin nothing shows.

Weaker than construction (level NAMED) except where the name is the usual spelling of the
thing itself (`mask`, `eps`). It is consulted only for unknown values: parameters, attributes of
other objects (`stats.std`), results of calls nanlint cannot see.
"""

from __future__ import annotations

import functools
import re

from nanlint.source.values.fact import BUILT, INF, NAMED, Fact, Reason

EPS_NAME = re.compile(r"(?:^|_)(?:eps|epsilon|tiny|smooth|smoothing|jitter)\d*(?:_|$)")
# The head noun of a compound name is its last word: `attn_mask` and `one_hot_labels` are masks, `mask_ratio`
# and `soft_onehot_temp` are not.
MASK_NAME = re.compile(r"(?:^|_)(?:masks?|one_?hot(?:_(?:labels?|targets?|vectors?|matrix|encoding|encoded))?)\d*$")
_STD = re.compile(r"(?:^|_)(?:std|stddev|stdev|sigma|sigmas)\d*$")
_VARIANCE = re.compile(r"(?:^|_)(?:var|vars|variance|variances)\d*$")
_NORM = re.compile(r"(?:^|_)(?:norm|norms|l2|magnitude|length)\d*$")
_DISTANCE = re.compile(r"(?:^|_)(?:dist|dists|distance|distances)\d*$")
_COSINE = re.compile(r"(?:^|_)cos(?:ine)?(?:_|\d|$)|^cos(?:ine)?(?:theta|sim|_?angle)")
_LOG_SCALE = re.compile(r"log(?:_|var|std|sigma|scale|alpha|prob|lik)")
# Per-example weights (Keras' `sample_weight`): >= 0, and 0 for an example that is left out.
_SAMPLE_WEIGHT = re.compile(r"(?:^|_)(?:sample|example|instance)_?weights?\d*$")
# A count of what a mask or a match selects (`num_valid_tokens`, `n_pos`, `num_fg`, `valid_count`): 0 when every
# item is masked out or nothing matches, the usual "all tokens masked" / "no positive anchors" NaN.
_SELECTED_COUNT = re.compile(
    r"(?:^|_)(?:num|n|number|count|cnt|total)_(?:of_)?(?:valid|tokens?|pos|positives?|fg|foreground|masked|unmasked|"
    r"non_?pad\w*|nonpad\w*|active|selected|matched)(?:_|\d|$)"
    r"|(?:^|_)(?:valid|tokens?|pos|positives?|fg|masked|selected|matched)_(?:count|counts|cnt|num|total)\d*$"
)
_MEAN = re.compile(r"(?:^|_)(?:mean|mu|avg|average|loc|center|centre)\d*$")

_PROBABILITY_OPS = frozenset({"softmax", "sigmoid"})

PROBABILITY = Fact(
    lo=0,
    hi=1,
    zero=Reason("a probability that can be 0", NAMED, "probability"),
    one=Reason("a probability that can be 1", NAMED, "probability"),
    why="a probability",
    kind="probability",
)
EPS = Fact(lo=1e-12, hi=INF, guarded=True, why="an eps", kind="eps")  # lo: positive, however small
MASK = Fact(
    lo=0,
    hi=1,
    zero=Reason("a mask, which is 0 where it is masked out", BUILT, "mask"),
    one=Reason("a mask", BUILT, "mask"),
    why="a mask",
    kind="mask",
)


def named(name: str, probability_stems: tuple[str, ...]) -> Fact | None:
    """What a name says about its value, or None when it says nothing."""
    lowered = name.lower().strip("_")
    if _LOG_SCALE.match(lowered):  # log_std, logvar: log-scale values, of any sign
        return None
    if EPS_NAME.search(lowered):
        return EPS
    if MASK_NAME.search(lowered):
        return MASK
    if _stems(probability_stems).search(lowered):
        return PROBABILITY
    for pattern, why, kind, zero in _NONNEGATIVE:
        if pattern.search(lowered):
            return Fact(lo=0, zero=Reason(zero, NAMED, kind), why=why, kind=kind)
    if _COSINE.search(lowered):
        return Fact(lo=-1, hi=1, rounding=Reason("a cosine", NAMED, "cosine"), why="a cosine", kind="cosine")
    return None


_NONNEGATIVE = (
    (_STD, "a standard deviation", "std", "a standard deviation, which is 0 for constant input"),
    (_VARIANCE, "a variance", "variance", "a variance, which is 0 for constant input"),
    (_NORM, "a norm", "norm", "a norm, which is 0 for a zero vector"),
    (_DISTANCE, "a distance", "distance", "a distance, which is 0 between equal points"),
    (_SELECTED_COUNT, "a count", "count", "a count of selected items (by its name), which is 0 when none is selected"),
    (_SAMPLE_WEIGHT, "a sample weight", "weight", "a sample weight, which is 0 for an example left out"),
)


def named_probability(name: str, probability_stems: tuple[str, ...]) -> Fact | None:
    """A name for a probability: the stems, or the op that makes one (a value stored as `softmax`)."""
    lowered = name.lower().strip("_")
    if lowered in _PROBABILITY_OPS or (not _LOG_SCALE.match(lowered) and _stems(probability_stems).search(lowered)):
        return PROBABILITY
    return None


def is_mean_name(name: str) -> bool:
    return _MEAN.search(name.lower().strip("_")) is not None


@functools.lru_cache(maxsize=16)
def _stems(stems: tuple[str, ...]) -> re.Pattern[str]:
    if not stems:
        return re.compile(r"(?!)")
    alternatives = "|".join(re.escape(stem.lower()) for stem in stems)
    return re.compile(rf"(?:^|_)(?:{alternatives})(?:_|\d|$)")
