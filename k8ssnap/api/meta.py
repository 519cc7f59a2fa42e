"""What all our custom resources share: metadata and references to Secrets.

:class:`Resource` is the base of the four resource dataclasses in
:mod:`k8ssnap.api.resources` (which re-exports everything here). The
readers at the bottom turn raw JSON into these values and raise
:class:`~k8ssnap.errors.ConfigError` with a reason a person can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from k8ssnap.api import _fields, _time
from k8ssnap.api.constants import DEFAULT_KUBECONFIG_KEY, FINALIZER
from k8ssnap.errors import ConfigError


@dataclass(frozen=True, slots=True)
class SecretKeyRef:
    """One key of a Secret in the controller's namespace."""

    name: str
    key: str


@dataclass(frozen=True, slots=True, repr=False)
class KubeconfigRef:
    """Where the kubeconfig of the cluster to work on comes from.

    Exactly one of three: ``inline`` text (k8s-snap's ``spec.kubeconfig``), a
    ``secret`` key (``spec.kubeconfigSecret``), or neither, meaning the
    controller's own cluster (:attr:`in_cluster`). The ``repr`` never shows
    the inline text: it holds credentials.
    """

    inline: str | None = None
    secret: SecretKeyRef | None = None

    def __post_init__(self) -> None:
        if self.inline is not None and self.secret is not None:
            raise ValueError("a KubeconfigRef is inline text or a Secret, not both")

    @property
    def in_cluster(self) -> bool:
        """True when the controller should use its own cluster."""
        return self.inline is None and self.secret is None

    def __repr__(self) -> str:
        if self.inline is not None:
            return f"KubeconfigRef(inline=<{len(self.inline)} characters>)"
        if self.secret is not None:
            return f"KubeconfigRef(secret={self.secret!r})"
        return "KubeconfigRef(in_cluster)"


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource:
    """The metadata every one of our custom resources carries."""

    name: str
    namespace: str
    uid: str = ""
    resource_version: str = ""
    generation: int = 0
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    finalizers: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def deleting(self) -> bool:
        """True once the resource has been asked to go away."""
        return self.deletion_timestamp is not None

    @property
    def has_finalizer(self) -> bool:
        """True while our finalizer holds the resource."""
        return FINALIZER in self.finalizers


# --- readers --------------------------------------------------------------


def metadata_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of :class:`Resource`, read from ``metadata``."""
    meta = _fields.mapping(obj.get("metadata"), field="metadata")
    return {
        "name": _fields.required_string(meta, "name", field="metadata.name"),
        "namespace": _fields.required_string(meta, "namespace", field="metadata.namespace"),
        "uid": _fields.string(meta, "uid", field="metadata.uid") or "",
        "resource_version": _fields.string(meta, "resourceVersion", field="metadata.resourceVersion") or "",
        "generation": _fields.count(meta, "generation", field="metadata.generation"),
        "creation_timestamp": _time.parse_timestamp(
            meta.get("creationTimestamp"), field="metadata.creationTimestamp"
        ),
        "deletion_timestamp": _time.parse_timestamp(
            meta.get("deletionTimestamp"), field="metadata.deletionTimestamp"
        ),
        "finalizers": _fields.strings(meta, "finalizers", field="metadata.finalizers") or (),
        "labels": _labels(meta),
    }


def _labels(meta: Mapping[str, Any]) -> Mapping[str, str]:
    labels = _fields.mapping(meta.get("labels"), field="metadata.labels")
    for key, value in labels.items():
        if not isinstance(value, str):
            raise ConfigError(f"metadata.labels[{key!r}] must be a string, not {_fields.describe(value)}")
    return MappingProxyType(dict(labels))


def secret_key_ref(value: object, *, field: str, default_key: str) -> SecretKeyRef:
    """A ``{name, key}`` object; ``key`` falls back to ``default_key``."""
    ref = _fields.mapping(value, field=field)
    return SecretKeyRef(
        name=_fields.required_string(ref, "name", field=f"{field}.name"),
        key=_fields.string(ref, "key", field=f"{field}.key") or default_key,
    )


def kubeconfig_ref(spec: Mapping[str, Any]) -> KubeconfigRef:
    """``spec.kubeconfig`` or ``spec.kubeconfigSecret``, at most one of them."""
    inline = _fields.string(spec, "kubeconfig", field="spec.kubeconfig")
    if inline is not None and not inline.strip():
        inline = None
    raw_ref = spec.get("kubeconfigSecret")
    secret = (
        None
        if raw_ref is None
        else secret_key_ref(raw_ref, field="spec.kubeconfigSecret", default_key=DEFAULT_KUBECONFIG_KEY)
    )
    if inline is not None and secret is not None:
        raise ConfigError(
            "spec.kubeconfig and spec.kubeconfigSecret are both set; keep one of them"
            " (or neither, to work on the controller's own cluster)"
        )
    return KubeconfigRef(inline=inline, secret=secret)
