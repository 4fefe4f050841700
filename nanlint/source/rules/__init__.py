"""The source rules, one module per family. ALL_RULES is the registry the engine runs."""

from __future__ import annotations

from nanlint.source.rule import Rule
from nanlint.source.rules import (
    comparisons,
    discarded,
    divisions,
    exps,
    logprob,
    logs,
    logsumexp,
    moments,
    precision,
    roots,
    softmax,
    training,
    training_init,
    training_inputs,
    training_losses,
    training_uninit,
    trig,
    where,
)

ALL_RULES: list[type[Rule]] = [
    *comparisons.RULES,
    *softmax.RULES,
    *logprob.RULES,
    *logsumexp.RULES,
    *logs.RULES,
    *divisions.RULES,
    *roots.RULES,
    *moments.RULES,
    *trig.RULES,
    *exps.RULES,
    *where.RULES,
    *discarded.RULES,
    *precision.RULES,
    *training.RULES,
    *training_inputs.RULES,
    *training_init.RULES,
    *training_losses.RULES,
    *training_uninit.RULES,
]
