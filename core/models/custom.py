"""Registry of the custom modules that compression methods put into a model.

Export must rebuild a compressed model from a folder without pickles and
without running code from the checkpoint. Every custom ``nn.Module`` class a
method inserts (a low-rank linear, a k-bit linear, a shared layer wrapper...)
is registered here by name and can describe itself and be rebuilt empty:

    @register_module
    class LowRankLinear(nn.Module):
        def module_spec(self) -> dict: ...          # JSON-serialisable shapes/options
        @classmethod
        def from_spec(cls, spec: dict) -> "LowRankLinear": ...  # right shapes, any values

after which ``load_state_dict`` fills in the weights.
"""

from __future__ import annotations

import torch.nn as nn

_MODULES: dict[str, type[nn.Module]] = {}


def register_module(cls: type[nn.Module]) -> type[nn.Module]:
    for attr in ("module_spec", "from_spec"):
        if not hasattr(cls, attr):
            raise TypeError(f"{cls.__name__} must define {attr}() to be exportable")
    _MODULES[cls.__name__] = cls
    return cls


def module_class(name: str) -> type[nn.Module]:
    import core.methods  # noqa: F401  (registers every method's modules)

    try:
        return _MODULES[name]
    except KeyError:
        raise KeyError(f"unknown module type {name!r} (known: {', '.join(sorted(_MODULES))})") from None


def is_custom(module: nn.Module) -> bool:
    return type(module).__name__ in _MODULES and _MODULES[type(module).__name__] is type(module)
