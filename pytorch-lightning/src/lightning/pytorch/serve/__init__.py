from lightning.pytorch.serve.servable_module import ServableModule
from lightning.pytorch.serve.servable_module_validator import ServableModuleValidator

__all__ = ["ServableModuleValidator", "ServableModule"]
