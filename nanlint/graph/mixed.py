"""Fixes for reduced precision: which nodes to keep in fp32, and a mixed-precision model that does.

Keeping only the node that overflows is not enough: the converter casts its fp32 output
back to fp16 for the next node, and the cast overflows. So a tensor out of range keeps
both its producer and its consumers in fp32; a constant out of range keeps its consumers
(and its Constant node) in fp32, so the converter leaves it in fp32 instead of clamping it.
The conversion itself is onnxruntime's own float16 converter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import onnx

from nanlint.findings import Finding, GraphLocation, Severity

# Codes whose fix is "compute this part in fp32".
PRECISION_CODES = frozenset({"NAN504", "NAN506", "NAN601", "NAN602", "NAN701", "NAN702"})


class MixedPrecisionError(Exception):
    pass


@dataclass
class BlockList:
    nodes: list[str] = field(default_factory=list)  # node names, as convert_float_to_float16 takes them
    tensors: list[str] = field(default_factory=list)  # tensors whose producer has no name

    def to_json(self) -> str:
        return json.dumps({"node_block_list": self.nodes, "tensor_block_list": self.tensors}, indent=2) + "\n"


def _tensors_to_keep(findings: list[Finding], target: str) -> set[str]:
    keep = set()
    for finding in findings:
        loc = finding.location
        if (
            isinstance(loc, GraphLocation)
            and loc.target == target
            and finding.code in PRECISION_CODES
            and finding.severity >= Severity.warning
            and loc.tensor
        ):
            keep.add(loc.tensor)
    return keep


def block_list(model: onnx.ModelProto, findings: list[Finding], target: str, extra_tensors=()) -> BlockList:
    """Producers and consumers of every out-of-range tensor of `target` (findings' tensors and
    `extra_tensors`, e.g. every tensor the samples saw beyond the range), in graph order."""
    keep = _tensors_to_keep(findings, target) | set(extra_tensors)
    result = BlockList()
    for node in model.graph.node:
        touches = any(t in keep for t in node.output) or any(t in keep for t in node.input)
        if not touches:
            continue
        if node.name:
            result.nodes.append(node.name)
        else:
            result.tensors.extend(t for t in node.output if t)
    result.nodes = list(dict.fromkeys(result.nodes))
    result.tensors = list(dict.fromkeys(result.tensors))
    return result


def name_unnamed_nodes(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy whose unnamed nodes are named after their first output, so that they can be blocked."""
    named = onnx.ModelProto()
    named.CopyFrom(model)
    taken = {n.name for n in named.graph.node if n.name}
    for index, node in enumerate(named.graph.node):
        if not node.name:
            base = f"nanlint/{node.op_type}/{node.output[0] if node.output else index}"
            node.name = base if base not in taken else f"{base}#{index}"
            taken.add(node.name)
    return named


def write_mixed(
    model: onnx.ModelProto, findings: list[Finding], target: str, path: str, extra_tensors=()
) -> onnx.ModelProto:
    """Convert to fp16 with the blocked nodes kept in fp32 (inputs and outputs keep their types)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    named = name_unnamed_nodes(model)
    blocked = block_list(named, findings, target, extra_tensors)
    try:
        mixed = convert_float_to_float16(
            named, keep_io_types=True, node_block_list=blocked.nodes, disable_shape_infer=False
        )
    except Exception as exc:
        raise MixedPrecisionError(f"onnxruntime's float16 converter failed: {str(exc).splitlines()[0]}") from None
    mixed = drop_round_trip_casts(mixed)
    try:
        onnx.save(mixed, path)
    except (OSError, ValueError) as exc:
        raise MixedPrecisionError(f"cannot write {path}: {exc}") from None
    return mixed


def drop_round_trip_casts(model: onnx.ModelProto) -> onnx.ModelProto:
    """Remove fp32 -> fp16 -> fp32 Cast pairs between two fp32 nodes.

    onnxruntime's converter casts every blocked node's output to fp16 and back, even when
    the next node is blocked too; the round trip would overflow exactly where the block
    list was meant to prevent it.
    """
    graph = model.graph
    casts = {n.output[0]: n for n in graph.node if n.op_type == "Cast"}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    outputs = {o.name for o in graph.output}
    removed: set[int] = set()
    for half, down in casts.items():
        if _cast_to(down) != onnx.TensorProto.FLOAT16 or half in outputs:
            continue
        users = consumers.get(half, [])
        if not users or not all(u.op_type == "Cast" and _cast_to(u) == onnx.TensorProto.FLOAT for u in users):
            continue
        source = down.input[0]
        for up in users:
            for node in consumers.get(up.output[0], []):
                node.input[:] = [source if name == up.output[0] else name for name in node.input]
            for output in graph.output:
                if output.name == up.output[0]:
                    output.name = source
            removed.add(id(up))
        removed.add(id(down))
    kept = [n for n in graph.node if id(n) not in removed]
    del graph.node[:]
    graph.node.extend(kept)
    produced = {name for node in kept for name in node.output}
    infos = [vi for vi in graph.value_info if vi.name in produced]
    del graph.value_info[:]
    graph.value_info.extend(infos)
    return model


def _cast_to(node: onnx.NodeProto) -> int | None:
    return next((a.i for a in node.attribute if a.name == "to"), None)


def fp16_tensors(model: onnx.ModelProto) -> set[str]:
    """Tensors stored in fp16 in a (converted) model, from its type information."""
    inferred = onnx.shape_inference.infer_shapes(model)
    infos = (*inferred.graph.value_info, *inferred.graph.output, *inferred.graph.input)
    return {vi.name for vi in infos if vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16}


def recheck(mixed: onnx.ModelProto, samples, target: str) -> dict:
    """Which fp16 tensors of the written model the fp32 samples put beyond fp16's range (none, ideally)."""
    half = fp16_tensors(mixed)
    stats = samples.stats if samples is not None else {}
    overflowing = sorted(t for t in half if t in stats and stats[t].abs_max > FP16_MAX)
    kept = sum(1 for n in mixed.graph.node if n.op_type != "Cast" and not _all_fp16(n, half))
    return {
        "target": target,
        "fp16_tensors": len(half),
        "checked": sum(t in stats for t in half),
        "overflowing": overflowing,
        "nodes_in_fp32": kept,
    }


def _all_fp16(node: onnx.NodeProto, half: set[str]) -> bool:
    return bool(node.output) and all(out in half for out in node.output if out)


FP16_MAX = 65504.0
