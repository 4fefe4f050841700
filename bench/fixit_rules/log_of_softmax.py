"""A Fixit rule comparable to nanlint's NAN102: `log(softmax(x))` found through qualified names.

Only for bench/fixit_speed.py, which installs Fixit into a temporary venv and runs
`fixit --rules .log_of_softmax lint` from this directory; Fixit is never a nanlint dependency.
It resolves names the way Fixit rules do, with libcst's QualifiedNameProvider (scope analysis).
"""

import libcst as cst
from fixit import Invalid, LintRule, Valid
from libcst.metadata import QualifiedNameProvider

LOGS = {"math.log", "numpy.log", "torch.log", "jax.numpy.log", "tensorflow.log", "tensorflow.math.log"}
SOFTMAXES = {"torch.softmax", "torch.nn.functional.softmax", "torch.special.softmax", "scipy.special.softmax",
             "jax.nn.softmax", "tensorflow.nn.softmax", "tensorflow.math.softmax", "tensorflow.sigmoid",
             "torch.sigmoid", "jax.nn.sigmoid", "tensorflow.math.sigmoid"}


class LogOfSoftmax(LintRule):
    METADATA_DEPENDENCIES = (QualifiedNameProvider,)
    MESSAGE = "log of a softmax/sigmoid: use log_softmax/log_sigmoid"
    VALID = [
        Valid("import torch\ny = torch.log_softmax(x, -1)"),
        Valid("import torch\ny = torch.log(x)"),
        Valid("import numpy as np\nfrom torch import softmax\ny = np.exp(softmax(x, -1))"),
        Valid("def log(v): return v\nimport torch\ny = log(torch.softmax(x, -1))"),
    ]
    INVALID = [
        Invalid("import torch\ny = torch.log(torch.softmax(x, -1))"),
        Invalid("import torch as T\nimport torch.nn.functional as F\ny = T.log(F.softmax(x, dim=-1))"),
        Invalid("from tensorflow.math import log\nimport tensorflow as tf\ny = log(tf.nn.softmax(x))"),
    ]

    def visit_Call(self, node: cst.Call) -> None:
        if node.args and isinstance(node.args[0].value, cst.Call) and self._names(node, LOGS) \
                and self._names(node.args[0].value, SOFTMAXES):
            self.report(node)

    def _names(self, call: cst.Call, wanted: set) -> bool:
        return any(q.name in wanted for q in self.get_metadata(QualifiedNameProvider, call.func, set()))
