"""The EtcdSnapshot kind: spec, status, parser and status bodies.

New in k8ssnap. An EtcdSnapshot streams etcd's ``Maintenance.Snapshot`` and
a certificate folder into one archive; its lifecycle is a Snapshot's
(phases, ``ttl``/``availableUntil``, the archive finalizer). ``spec.pki`` is
only a name: which host folders it may reach is the operator's flag
``--pki-root`` (see :mod:`k8ssnap.domain.hostpaths`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from k8ssnap.api import _fields, meta
from k8ssnap.api.constants import DEFAULT_SNAPSHOT_TTL, Phase
from k8ssnap.domain import timestamps
from k8ssnap.errors import ConfigError

TLS_CA_KEY = "ca.crt"
TLS_CERT_KEY = "tls.crt"
TLS_KEY_KEY = "tls.key"
DEFAULT_TTL = DEFAULT_SNAPSHOT_TTL


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdSnapshotSpec:
    endpoints: tuple[str, ...] = ()
    #: Secret with ca.crt, tls.crt, tls.key; None for plain http.
    tls_secret: str | None = None
    #: Folder relative to --pki-root; None: no PKI.
    pki: str | None = None
    certificates_only: bool = False
    objectstore_config: str | None = None
    ttl: str | None = None
    available_until: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdSnapshotStatus:
    phase: Phase = ""
    reason: str = ""
    available_until: datetime | None = None
    observed_generation: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdSnapshot(meta.Resource):
    spec: EtcdSnapshotSpec = field(default_factory=EtcdSnapshotSpec)
    status: EtcdSnapshotStatus = field(default_factory=EtcdSnapshotStatus)


def parse_etcd_snapshot(obj: Mapping[str, Any]) -> EtcdSnapshot:
    """An EtcdSnapshot from its JSON; ConfigError if it cannot be used as given."""
    spec = _fields.mapping(obj.get("spec"), field="spec")
    status = _fields.mapping(obj.get("status"), field="status")
    return EtcdSnapshot(
        **meta.metadata_fields(obj),
        spec=etcd_spec(spec, field="spec"),
        status=EtcdSnapshotStatus(
            phase=_fields.phase(status),
            reason=_fields.string(status, "reason", field="status.reason") or "",
            available_until=_fields.timestamp(status, "availableUntil", field="status.availableUntil"),
            observed_generation=_fields.observed_generation(status),
        ),
    )


def etcd_spec(spec: Mapping[str, Any], *, field: str) -> EtcdSnapshotSpec:
    """An EtcdSnapshot spec found at ``field`` (``spec``, or a schedule's ``spec.etcdTemplate``)."""
    endpoints = _fields.strings(spec, "endpoints", field=f"{field}.endpoints") or ()
    if not endpoints:
        raise ConfigError(f"{field}.endpoints must name at least one etcd client URL")
    return EtcdSnapshotSpec(
        endpoints=endpoints,
        tls_secret=_fields.string(spec, "tlsSecret", field=f"{field}.tlsSecret"),
        pki=_fields.string(spec, "pki", field=f"{field}.pki"),
        certificates_only=bool(_fields.boolean(spec, "certificatesOnly", field=f"{field}.certificatesOnly")),
        objectstore_config=_fields.string(spec, "objectstoreConfig", field=f"{field}.objectstoreConfig"),
        ttl=_fields.duration(spec, "ttl", field=f"{field}.ttl"),
        available_until=_fields.timestamp(spec, "availableUntil", field=f"{field}.availableUntil"),
    )


def status_in_queue(*, observed_generation: int) -> dict[str, Any]:
    return {"phase": "InQueue", "reason": "", "observedGeneration": observed_generation}


def status_in_progress(*, observed_generation: int) -> dict[str, Any]:
    return {"phase": "InProgress", "reason": "", "observedGeneration": observed_generation}


def status_completed(
    *,
    taken_at: datetime,
    etcd_version: str,
    revision: int,
    members: int,
    db_size: int,
    db_sha256: str,
    stored_size: int,
    stored_sha256: str,
    pki_files: int,
    private_keys: bool,
    available_until: datetime,
    observed_generation: int,
) -> dict[str, Any]:
    """The Completed status: what the record holds, no key content."""
    return {
        "phase": "Completed",
        "reason": "",
        "snapshotTimestamp": timestamps.format_time(taken_at),
        "etcdVersion": etcd_version,
        "revision": revision,
        "members": members,
        "dbSize": db_size,
        "dbSha256": db_sha256,
        "storedFileSize": stored_size,
        "storedSha256": stored_sha256,
        "pkiFiles": pki_files,
        "privateKeys": private_keys,
        "availableUntil": timestamps.format_time(available_until),
        "observedGeneration": observed_generation,
    }


def status_failed(
    reason: str, *, available_until: datetime | None = None, observed_generation: int = 0
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "phase": "Failed",
        "reason": reason[:1024],
        "observedGeneration": observed_generation,
    }
    if available_until is not None:
        body["availableUntil"] = timestamps.format_time(available_until)
    return body
