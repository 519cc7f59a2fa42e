"""Total, typed read access to raw Kubernetes JSON objects.

Archived objects are untrusted JSON: any field may be missing or of the
wrong type. These accessors never raise; a missing or mistyped field reads
as empty (``{}``, ``[]``, ``""``). Callers therefore decide on values, not
on exceptions, and the planner stays total over whatever an archive holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

EMPTY: Mapping[str, Any] = {}


def mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty mapping."""
    return value if isinstance(value, Mapping) else EMPTY


def items(value: object) -> Sequence[Any]:
    """``value`` if it is a JSON array, else an empty sequence."""
    return value if isinstance(value, list | tuple) else ()


def text(value: object) -> str:
    """``value`` if it is a JSON string, else ``""``."""
    return value if isinstance(value, str) else ""


def at(obj: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    """The object found by following ``keys``; ``{}`` where the chain breaks."""
    current = obj
    for key in keys:
        current = mapping(current.get(key))
    return current


def metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``obj.metadata``."""
    return mapping(obj.get("metadata"))


def name(obj: Mapping[str, Any]) -> str:
    """``obj.metadata.name``."""
    return text(metadata(obj).get("name"))


def namespace(obj: Mapping[str, Any]) -> str:
    """``obj.metadata.namespace`` (``""`` for cluster-scoped objects)."""
    return text(metadata(obj).get("namespace"))


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``obj.metadata.labels``."""
    return mapping(metadata(obj).get("labels"))


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``obj.metadata.annotations``."""
    return mapping(metadata(obj).get("annotations"))


def spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``obj.spec``."""
    return mapping(obj.get("spec"))


def has_spec(obj: Mapping[str, Any]) -> bool:
    """Whether ``obj.spec`` is a non-empty JSON object."""
    return bool(spec(obj))
