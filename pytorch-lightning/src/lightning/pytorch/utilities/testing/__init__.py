from lightning.pytorch.utilities.testing._runif import _runif_reasons

__all__ = ["_runif_reasons"]
