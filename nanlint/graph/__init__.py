"""The ONNX pass (`nanlint graph`) -- placeholder until the graph pass lands."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GraphOptions:
    targets: tuple[str, ...] = ("cpu",)

    @classmethod
    def from_cli(cls, graph_settings, targets, input_ranges, input_shapes) -> "GraphOptions":
        return cls(tuple(targets) or graph_settings.targets)


def list_target_names() -> list[str]:
    return ["cpu"]


def analyze_models(paths, settings, options):
    raise NotImplementedError("the graph pass is not implemented yet")
