"""The ONNX pass (`nanlint graph`).

Layout: `model` loads and orders the graph; `analysis` with `transfer/` bounds every tensor by
interval analysis; `sampling` and `search` run it with onnxruntime; `checks` and `runtime` turn
bounds and samples into findings for each `targets/` profile; `mixed` writes the fp16 model;
`driver` runs all of it for the command line.
"""
