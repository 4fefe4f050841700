"""nanlint: predict NaN/Inf in ML source code and ONNX graphs before they happen."""

__version__ = "0.1.0"
