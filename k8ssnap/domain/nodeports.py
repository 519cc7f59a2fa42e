"""Which node ports of a Service a client chose, as opposed to the apiserver.

The apiserver allocates a ``nodePort`` (and ``healthCheckNodePort``) for a
NodePort/LoadBalancer Service unless the client sets one. Restoring an
allocated port pins it on the destination, where it may already be taken
by another Service; restoring a chosen port keeps what the user asked for
(firewall rules often depend on it). A port counts as chosen when either
record of client intent shows it:

* the ``kubectl.kubernetes.io/last-applied-configuration`` annotation, or
* ``metadata.managedFields``: allocation happens after field tracking, so
  a manager owns ``f:nodePort`` only if its request carried one.

Ports are matched by ``(port, protocol)``, the key of ``spec.ports``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from k8ssnap.domain.fields import annotations_of, at, items, mapping, metadata, spec, text

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

PortKey = tuple[int, str]


@dataclass(frozen=True, slots=True)
class ChosenPorts:
    """The node ports a client set on a Service."""

    node_ports: frozenset[PortKey]
    health_check: bool


def port_key(port: Mapping[str, Any]) -> PortKey | None:
    """``(port, protocol)`` of a ``spec.ports`` entry; protocol defaults to TCP."""
    number = port.get("port")
    if not isinstance(number, int) or isinstance(number, bool):
        return None
    return number, text(port.get("protocol")) or "TCP"


def chosen_ports(service: Mapping[str, Any]) -> ChosenPorts:
    """The node ports the Service's clients set, from last-applied and managedFields."""
    ports: set[PortKey] = set()
    health_check = False
    for source in (_last_applied_spec(service), *_managed_specs(service)):
        ports.update(source.node_ports)
        health_check = health_check or source.health_check
    return ChosenPorts(frozenset(ports), health_check)


def _last_applied_spec(service: Mapping[str, Any]) -> ChosenPorts:
    raw = annotations_of(service).get(LAST_APPLIED)
    try:
        applied = mapping(orjson.loads(raw)) if isinstance(raw, str) else {}
    except orjson.JSONDecodeError:
        applied = {}
    applied_spec = spec(applied)
    keys = (port_key(mapping(p)) for p in items(applied_spec.get("ports")) if _has_node_port(p))
    return ChosenPorts(
        frozenset(k for k in keys if k is not None),
        bool(applied_spec.get("healthCheckNodePort")),
    )


def _managed_specs(service: Mapping[str, Any]) -> Iterator[ChosenPorts]:
    for entry in items(metadata(service).get("managedFields")):
        fields = at(mapping(entry), "fieldsV1", "f:spec")
        ports = frozenset(
            key
            for raw_key, value in at(fields, "f:ports").items()
            if "f:nodePort" in mapping(value)
            for key in (_managed_port_key(raw_key),)
            if key is not None
        )
        yield ChosenPorts(ports, "f:healthCheckNodePort" in fields)


def _managed_port_key(raw: str) -> PortKey | None:
    """Parse a managedFields list key such as ``k:{"port":80,"protocol":"TCP"}``."""
    if not raw.startswith("k:"):
        return None
    try:
        return port_key(mapping(orjson.loads(raw[2:])))
    except orjson.JSONDecodeError:
        return None


def _has_node_port(port: object) -> bool:
    return bool(mapping(port).get("nodePort"))
