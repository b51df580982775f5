"""Neuron models: validated parameter dataclasses in SI units, each with one description.

Every module of this package that defines a :class:`NeuronModel` subclass is imported here, and
each model is exported under its class name and listed in :data:`MODELS`: adding a model is
adding one file.
"""

import importlib
import pkgutil

from neurosim.neurons.base import NeuronModel

#: every neuron model class by name
MODELS: dict[str, type[NeuronModel]] = {}
_INFRASTRUCTURE = {"base", "codegen", "description", "dimensions", "equations", "fastexp", "integration", "user"}

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name in _INFRASTRUCTURE:
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name, _obj in vars(_module).items():
        if isinstance(_obj, type) and issubclass(_obj, NeuronModel) and _obj is not NeuronModel \
                and _obj.__module__ == _module.__name__:
            MODELS[_name] = _obj

globals().update(MODELS)
from neurosim.neurons.user import EquationModel  # noqa: E402  (built from its arguments: not in MODELS)

__all__ = ["NeuronModel", "EquationModel", "MODELS", *MODELS]
