"""kubernetes-asyncio without its generated client, unless someone uses it.

k8ssnap uses three parts of kubernetes-asyncio: ``Configuration``, the
kubeconfig loader and the in-cluster loader. Importing any of them runs the
package's ``__init__``, which imports every generated API and model class
(859 modules, about 36 MB of the controller's 110 MB idle RSS). :func:`install`
puts the two packages ``kubernetes_asyncio`` and ``kubernetes_asyncio.client``
into ``sys.modules`` without running their ``__init__``; submodules import as
usual. The first access to any other name of either package runs the real
``__init__`` into it, so code that does use the generated client gets it,
only later. ``kubernetes_asyncio.client.ApiClient``, which the kubeconfig
loader names but k8ssnap never calls, loads its module on first call.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

_ROOT = "kubernetes_asyncio"
_CLIENT = "kubernetes_asyncio.client"


def install() -> None:
    """Make the two packages light, unless kubernetes_asyncio is imported already."""
    if _ROOT in sys.modules:
        return
    root = _lazy_package(_ROOT)
    client = _lazy_package(_CLIENT)
    root.client = client  # type: ignore[attr-defined]
    configuration = importlib.import_module(f"{_CLIENT}.configuration")
    client.Configuration = configuration.Configuration  # type: ignore[attr-defined]
    client.ApiClient = _api_client  # type: ignore[attr-defined]


def _lazy_package(name: str) -> types.ModuleType:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"{name} is not installed")
    module = importlib.util.module_from_spec(spec)  # created with __path__, not executed
    loader = spec.loader
    loaded = False

    def __getattr__(attr: str) -> Any:
        nonlocal loaded
        if loaded or attr.startswith("__"):
            raise AttributeError(f"module {name!r} has no attribute {attr!r}")
        loaded = True
        loader.exec_module(module)  # the real __init__: every generated class
        return getattr(module, attr)

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = module
    return module


def _api_client(*args: Any, **kwargs: Any) -> Any:
    from kubernetes_asyncio.client.api_client import ApiClient

    return ApiClient(*args, **kwargs)
