"""SnapshotSchedule: a cron schedule of Snapshots, parsed from raw JSON, and its status.

The kind is k8ssnap's own (k8s-snap had none); see ``docs/schedules.md``.
Exactly one template says what each run creates, and so the schedule's kind:

* ``spec.template``: a Snapshot spec (clusterName, kubeconfig or
  kubeconfigSecret, objectstoreConfig, ttl, encryption);
* ``spec.etcdTemplate``: an EtcdSnapshot spec (endpoints, tlsSecret, pki,
  certificatesOnly, objectstoreConfig, ttl).

A second field rather than a ``kind`` beside one template: each template
keeps its own structural schema (the API server prunes and checks it), and
every SnapshotSchedule written before EtcdSnapshots existed stays valid as
it is. The template is checked here like the spec it becomes, and kept as
the JSON the user wrote so that every run gets exactly that spec.

What the CRD's schema and CEL rules check at admission is checked again
here, for objects that never passed them; the cron expression and the time
zone are checked by :mod:`k8ssnap.domain.cadence` in the reconciler, which
turns a bad one into a Failed status with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final, Literal

from k8ssnap.api import _fields, _time, constants, encryption, meta
from k8ssnap.api.etcd import EtcdSnapshotSpec, etcd_spec
from k8ssnap.api.resources import SnapshotSpec
from k8ssnap.errors import ConfigError

#: The template keys a Snapshot spec takes (copied to every scheduled Snapshot).
TEMPLATE_FIELDS: Final = (
    "clusterName",
    "kubeconfig",
    "kubeconfigSecret",
    "objectstoreConfig",
    "ttl",
    "encryption",
)
#: The etcdTemplate keys an EtcdSnapshot spec takes (copied to every scheduled EtcdSnapshot).
ETCD_TEMPLATE_FIELDS: Final = (
    "endpoints",
    "tlsSecret",
    "pki",
    "certificatesOnly",
    "objectstoreConfig",
    "ttl",
)

SchedulePhase = Literal["", "Active", "Suspended", "Failed"]
SCHEDULE_ACTIVE: Final[SchedulePhase] = "Active"
SCHEDULE_SUSPENDED: Final[SchedulePhase] = "Suspended"
SCHEDULE_FAILED: Final[SchedulePhase] = "Failed"
SCHEDULE_PHASES: Final[tuple[SchedulePhase, ...]] = ("", "Active", "Suspended", "Failed")


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleSpec:
    schedule: str
    time_zone: str | None = None
    suspend: bool = False
    #: The Snapshot spec of each run; None for a schedule of EtcdSnapshots.
    template: SnapshotSpec | None = None
    #: The EtcdSnapshot spec of each run; None for a schedule of Snapshots.
    etcd_template: EtcdSnapshotSpec | None = None
    #: The template as written, restricted to its fields (may hold a kubeconfig).
    template_json: Mapping[str, Any] = field(repr=False, default_factory=lambda: MappingProxyType({}))
    #: Completed snapshots to keep; None keeps all (each snapshot's ttl still applies).
    keep: int | None = None
    starting_deadline_seconds: int | None = None

    @property
    def target(self) -> constants.ResourceKind:
        """The kind each run creates: Snapshot, or EtcdSnapshot."""
        return constants.SNAPSHOT if self.etcd_template is None else constants.ETCD_SNAPSHOT


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleStatus:
    phase: SchedulePhase = ""
    reason: str = ""
    last_schedule_time: datetime | None = None
    last_successful_time: datetime | None = None
    last_snapshot: str = ""
    last_status: str = ""
    next_schedule_time: datetime | None = None
    active: tuple[str, ...] = ()
    observed_generation: int = 0
    conditions: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotSchedule(meta.Resource):
    spec: ScheduleSpec
    status: ScheduleStatus = field(default_factory=ScheduleStatus)


def parse_schedule(obj: Mapping[str, Any]) -> SnapshotSchedule:
    """A SnapshotSchedule from its JSON; ConfigError if it cannot be used as given."""
    spec = _fields.mapping(obj.get("spec"), field="spec")
    status = _fields.mapping(obj.get("status"), field="status")
    template = _fields.mapping(spec.get("template"), field="spec.template")
    etcd = _fields.mapping(spec.get("etcdTemplate"), field="spec.etcdTemplate")
    if template and etcd:
        raise ConfigError("spec.template and spec.etcdTemplate are both set; a schedule creates one kind")
    if not template and not etcd:
        raise ConfigError(
            "spec.template (a Snapshot spec) or spec.etcdTemplate (an EtcdSnapshot spec) is required:"
            " what each run creates"
        )
    fields = TEMPLATE_FIELDS if template else ETCD_TEMPLATE_FIELDS
    written = template or etcd
    return SnapshotSchedule(
        **meta.metadata_fields(obj),
        spec=ScheduleSpec(
            schedule=_fields.required_string(spec, "schedule", field="spec.schedule"),
            time_zone=_fields.string(spec, "timeZone", field="spec.timeZone"),
            suspend=bool(_fields.boolean(spec, "suspend", field="spec.suspend")),
            template=_template(template) if template else None,
            etcd_template=_etcd_template(etcd) if etcd else None,
            template_json=MappingProxyType({k: written[k] for k in fields if k in written}),
            keep=_optional_count(spec, "keep", minimum=1),
            starting_deadline_seconds=_optional_count(spec, "startingDeadlineSeconds", minimum=0),
        ),
        status=_status(status),
    )


def schedule_status_json(status: ScheduleStatus) -> dict[str, Any]:
    """``status`` as the JSON the CRD stores, every field present."""
    return {
        "phase": status.phase,
        "reason": status.reason,
        "lastScheduleTime": _time.format_optional(status.last_schedule_time),
        "lastSuccessfulTime": _time.format_optional(status.last_successful_time),
        "lastSnapshot": status.last_snapshot,
        "lastStatus": status.last_status,
        "nextScheduleTime": _time.format_optional(status.next_schedule_time),
        "active": list(status.active) or None,
        "observedGeneration": status.observed_generation,
        "conditions": [dict(c) for c in status.conditions] or None,
    }


def ready_condition(
    *, ready: bool, reason: str, message: str, now: datetime, previous: tuple[Mapping[str, Any], ...]
) -> dict[str, Any]:
    """The ``Ready`` condition; its lastTransitionTime moves only when its status changes."""
    value = "True" if ready else "False"
    old = next((c for c in previous if c.get("type") == "Ready"), None)
    since = old.get("lastTransitionTime") if old and old.get("status") == value else None
    return {
        "type": "Ready",
        "status": value,
        "reason": reason,
        "message": message[:1024],
        "lastTransitionTime": since or _time.format_timestamp(now),
    }


def _template(template: Mapping[str, Any]) -> SnapshotSpec:
    unknown = sorted(set(template) - set(TEMPLATE_FIELDS))
    if unknown:
        raise ConfigError(
            f"spec.template has fields a Snapshot spec does not: {', '.join(unknown)};"
            f" it takes {', '.join(TEMPLATE_FIELDS)}"
        )
    try:
        kubeconfig = meta.kubeconfig_ref(template)
    except ConfigError:
        raise ConfigError(
            "spec.template.kubeconfig and spec.template.kubeconfigSecret are both set; keep one"
        ) from None
    return SnapshotSpec(
        cluster_name=_fields.required_string(template, "clusterName", field="spec.template.clusterName"),
        kubeconfig=kubeconfig,
        objectstore_config=_fields.string(
            template, "objectstoreConfig", field="spec.template.objectstoreConfig"
        ),
        ttl=_fields.duration(template, "ttl", field="spec.template.ttl"),
        encryption=encryption.encryption(template, allow=("recipientsSecret",)),
    )


def _etcd_template(template: Mapping[str, Any]) -> EtcdSnapshotSpec:
    unknown = sorted(set(template) - set(ETCD_TEMPLATE_FIELDS))
    if unknown:
        raise ConfigError(
            f"spec.etcdTemplate has fields it does not take: {', '.join(unknown)};"
            f" it takes {', '.join(ETCD_TEMPLATE_FIELDS)}"
        )
    return etcd_spec(template, field="spec.etcdTemplate")


def _optional_count(spec: Mapping[str, Any], key: str, *, minimum: int) -> int | None:
    if spec.get(key) is None:
        return None
    value = _fields.count(spec, key, field=f"spec.{key}")
    if value < minimum:
        raise ConfigError(f"spec.{key} must be at least {minimum}, not {value}")
    return value


def _status(status: Mapping[str, Any]) -> ScheduleStatus:
    phase = status.get("phase") or ""
    if phase not in SCHEDULE_PHASES:
        raise ConfigError(f"status.phase {phase!r} is not one of: {', '.join(SCHEDULE_PHASES[1:])}")
    conditions = status.get("conditions") or []
    if not isinstance(conditions, list) or not all(isinstance(c, Mapping) for c in conditions):
        raise ConfigError("status.conditions must be a list of objects")
    return ScheduleStatus(
        phase=phase,
        reason=_fields.string(status, "reason", field="status.reason") or "",
        last_schedule_time=_fields.timestamp(status, "lastScheduleTime", field="status.lastScheduleTime"),
        last_successful_time=_fields.timestamp(
            status, "lastSuccessfulTime", field="status.lastSuccessfulTime"
        ),
        last_snapshot=_fields.string(status, "lastSnapshot", field="status.lastSnapshot") or "",
        last_status=_fields.string(status, "lastStatus", field="status.lastStatus") or "",
        next_schedule_time=_fields.timestamp(status, "nextScheduleTime", field="status.nextScheduleTime"),
        active=_fields.strings(status, "active", field="status.active") or (),
        observed_generation=_fields.observed_generation(status),
        conditions=tuple(MappingProxyType(dict(c)) for c in conditions),
    )
