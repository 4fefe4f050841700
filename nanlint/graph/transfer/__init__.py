"""Transfer functions, one module per lifting family (see DESIGN.md "Graph pass" and docs/graph-ops.md).

Importing this package fills the registry; `lookup(domain, op_type)` finds an op's entry.
"""

# Families register their ops on import (order is irrelevant).
from nanlint.graph.transfer import (  # noqa: F401
    arithmetic,
    contrib,
    control_flow,
    elementwise,
    layout,
    linear,
    normalization,
    quantization,
    recurrent,
    reduction,
    shape,
)
from nanlint.graph.transfer.registry import FAMILIES, REGISTRY, OpEntry, lookup, register, supported_ops

__all__ = ["FAMILIES", "REGISTRY", "OpEntry", "lookup", "register", "supported_ops"]
