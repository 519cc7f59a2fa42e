"""Turn an archived object into the body a restore POSTs.

:func:`transform` never mutates its input: it deep-copies, then edits the
copy. It is total over any JSON: archived objects are untrusted, so a field
of an unexpected type is left as it is (the API server judges it), never a
reason to raise. Every rule is listed, with its reason, in
``docs/restore-rules.md``. In short:

* every object: drop the server-set metadata (``uid``, ``resourceVersion``,
  ``creationTimestamp``, ``generation``, ``managedFields``, ``selfLink``,
  ``deletionTimestamp``, ``deletionGracePeriodSeconds``) and ``status``;
* Service: drop ``clusterIP``/``clusterIPs`` unless headless, and node
  ports the apiserver allocated (see :mod:`k8ssnap.domain.nodeports`);
* PersistentVolume: drop ``claimRef.uid``/``resourceVersion`` so the PV
  stays reserved for its claim by namespace and name only;
* PersistentVolumeClaim: drop the binding and provisioning annotations the
  PV controller and scheduler set;
* Pod: drop ``nodeName`` and ``priority``, and the legacy
  ``<serviceaccount>-token-*`` secret volumes (token secrets are not restored);
* ServiceAccount: drop references to its legacy ``-token-`` secrets;
* Job: drop the generated selector and ``controller-uid`` labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from k8ssnap.domain import kinds
from k8ssnap.domain.fields import text
from k8ssnap.domain.nodeports import chosen_ports, port_key
from k8ssnap.domain.paths import GroupResource, parse_path

SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
CLAIM_ANNOTATIONS = (
    "pv.kubernetes.io/bind-completed",
    "pv.kubernetes.io/bound-by-controller",
    "volume.kubernetes.io/selected-node",
    "volume.beta.kubernetes.io/storage-provisioner",
    "volume.kubernetes.io/storage-provisioner",
)
JOB_UID_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
NODE_PORT_TYPES = frozenset({"NodePort", "LoadBalancer"})

Json = dict[str, Any]
Rule = Callable[[Json, Mapping[str, Any]], None]


def transform(path: str, obj: Mapping[str, Any]) -> Json:
    """A new object, ready to create, from the archived ``obj`` at ``path``."""
    rule = _RULES.get(parse_path(path).group_resource)
    new = _copy(obj)
    _strip_server_fields(new)
    if rule is not None:
        rule(new, obj)
    return new


def _copy(obj: Mapping[str, Any]) -> Json:
    copied = orjson.loads(orjson.dumps(obj, default=_plain))
    if not isinstance(copied, dict):
        raise TypeError("an API object must be a JSON object")
    return copied


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | frozenset):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def _child(parent: Json, key: str) -> Json | None:
    value = parent.get(key)
    return value if isinstance(value, dict) else None


def _dicts(parent: Json, key: str) -> list[Json]:
    value = parent.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _drop(parent: Json | None, *keys: str) -> None:
    if parent is not None:
        for key in keys:
            parent.pop(key, None)


def _strip_server_fields(new: Json) -> None:
    _drop(_child(new, "metadata"), *SERVER_METADATA)
    new.pop("status", None)


def _service(new: Json, original: Mapping[str, Any]) -> None:
    spec = _child(new, "spec")
    if spec is None:
        return
    if spec.get("clusterIP") != "None":
        _drop(spec, "clusterIP", "clusterIPs")
    chosen = chosen_ports(original)
    keeps_ports = text(spec.get("type")) in NODE_PORT_TYPES
    for port in _dicts(spec, "ports"):
        if not (keeps_ports and port_key(port) in chosen.node_ports):
            port.pop("nodePort", None)
    if not (text(spec.get("type")) == "LoadBalancer" and chosen.health_check):
        spec.pop("healthCheckNodePort", None)


def _volume(new: Json, original: Mapping[str, Any]) -> None:
    spec = _child(new, "spec")
    _drop(_child(spec, "claimRef") if spec else None, "uid", "resourceVersion")


def _claim(new: Json, original: Mapping[str, Any]) -> None:
    metadata = _child(new, "metadata")
    annotations = _child(metadata, "annotations") if metadata else None
    _drop(annotations, *CLAIM_ANNOTATIONS)


def _pod(new: Json, original: Mapping[str, Any]) -> None:
    spec = _child(new, "spec")
    if spec is None:
        return
    _drop(spec, "nodeName", "priority")
    prefix = f"{_account_of(spec)}-token-"
    dropped = {
        name
        for volume in _dicts(spec, "volumes")
        if text((_child(volume, "secret") or {}).get("secretName")).startswith(prefix)
        and (name := text(volume.get("name")))
    }
    if not dropped:
        return
    spec["volumes"] = _without_names(spec["volumes"], dropped)
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in _dicts(spec, kind):
            if isinstance(container.get("volumeMounts"), list):
                container["volumeMounts"] = _without_names(container["volumeMounts"], dropped)


def _without_names(entries: list[Any], names: set[str]) -> list[Any]:
    """``entries`` but the objects whose ``name`` is one of ``names``; any other entry stays."""
    return [e for e in entries if not (isinstance(e, dict) and text(e.get("name")) in names)]


def _account_of(pod_spec: Json) -> str:
    return text(pod_spec.get("serviceAccountName")) or text(pod_spec.get("serviceAccount")) or "default"


def _service_account(new: Json, original: Mapping[str, Any]) -> None:
    metadata = _child(new, "metadata") or {}
    prefix = f"{text(metadata.get('name'))}-token-"
    if not isinstance(new.get("secrets"), list):
        return
    kept = [s for s in new["secrets"] if not (isinstance(s, dict) and text(s.get("name")).startswith(prefix))]
    if kept:
        new["secrets"] = kept
    else:
        del new["secrets"]


def _job(new: Json, original: Mapping[str, Any]) -> None:
    spec = _child(new, "spec")
    if spec is None or spec.get("manualSelector") is True:
        return
    spec.pop("selector", None)
    template_metadata = _child(_child(spec, "template") or {}, "metadata")
    for metadata in (_child(new, "metadata"), template_metadata):
        _drop(_child(metadata, "labels") if metadata else None, *JOB_UID_LABELS)


_RULES: Mapping[GroupResource, Rule] = {
    kinds.SERVICES: _service,
    kinds.PERSISTENT_VOLUMES: _volume,
    kinds.PERSISTENT_VOLUME_CLAIMS: _claim,
    kinds.PODS: _pod,
    kinds.SERVICE_ACCOUNTS: _service_account,
    kinds.JOBS: _job,
}
