"""nanlint: predict NaN/Inf in ML source code and ONNX graphs before they happen.

The Python API (nanlint/api.py) is imported on first use, so `import nanlint` stays cheap:
`nanlint.check_source(text, path=...)`, `nanlint.check_model(model_or_path, target=...)`.
"""

__version__ = "0.1.0"

_API = {
    "check_source": "nanlint.api",
    "check_model": "nanlint.api",
    "CheckError": "nanlint.api",
    "Finding": "nanlint.findings",
    "GraphResult": "nanlint.findings",
    "Severity": "nanlint.findings",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        import importlib

        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value  # the next lookup is an ordinary attribute
        return value
    raise AttributeError(f"module 'nanlint' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
