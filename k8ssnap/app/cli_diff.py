"""``k8ssnap diff``: what differs between a snapshot and the live cluster.

Both sides are normalised the way a restore sees them
(:func:`k8ssnap.domain.transform.transform`: server-set metadata, status,
allocated cluster IPs and node ports and the like removed), so an object
counts as changed only when what a restore would create differs from what
the cluster holds. Each side is reduced to one digest per object, so
comparing a cluster of 100k objects keeps 100k digests in memory, not
100k objects.

Objects are matched by group, resource, namespace and name, without the
version: a resource served at a newer version than at snapshot time is
compared, not reported as gone and new (its ``apiVersion`` then differs,
so it shows as changed).

The diff uses the restore's plan (:mod:`k8ssnap.domain.plan`): objects only
in the snapshot that a restore would exclude (owned Pods, controller-made
EndpointSlices, token Secrets, built-in objects...) are listed apart, with
their reasons, so "a restore would create them" means what it says. With
a preference's ``namespaceMapping``, archived objects are compared where a
restore would put them, under their destination paths.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from k8ssnap.app.cli_format import to_yaml
from k8ssnap.domain import kinds
from k8ssnap.domain.paths import ObjectRef, parse_path
from k8ssnap.domain.transform import transform

Identity = tuple[str, str, str, str]


def normalize(path: str, obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj`` as a restore would create it: no server-set fields, no status."""
    return transform(path, obj)


def digest(normalized: Mapping[str, Any]) -> bytes:
    """A digest of a normalised object; equal for equal JSON whatever the key order."""
    return hashlib.sha256(orjson.dumps(normalized, option=orjson.OPT_SORT_KEYS)).digest()


def identity(path: str) -> Identity:
    """What makes two paths the same object: group, resource, namespace, name."""
    ref = parse_path(path)
    return (ref.group, ref.resource, ref.namespace or "", ref.name)


def in_namespace(ref: ObjectRef, namespace: str) -> bool:
    """Whether the object is in ``namespace``, or is that Namespace itself."""
    if ref.group_resource == kinds.NAMESPACES:
        return ref.name == namespace
    return ref.namespace == namespace


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffResult:
    """The comparison. Paths are sorted; changed paths are the snapshot's."""

    only_snapshot: tuple[str, ...]
    only_live: tuple[str, ...]
    changed: tuple[str, ...]
    unchanged: int
    #: Only in the snapshot, but a restore excludes them: path -> reason.
    excluded: Mapping[str, str] = field(default_factory=dict)

    @property
    def identical(self) -> bool:
        """Whether the snapshot and the cluster hold the same objects, unchanged."""
        return not (self.only_snapshot or self.only_live or self.changed or self.excluded)

    def with_excluded(self, reasons: Mapping[str, str]) -> DiffResult:
        """This result with the only-in-snapshot paths in ``reasons`` moved apart."""
        return replace(
            self,
            only_snapshot=tuple(p for p in self.only_snapshot if p not in reasons),
            excluded={**self.excluded, **reasons},
        )


def classify(snapshot: Mapping[str, bytes], live: Mapping[str, bytes]) -> DiffResult:
    """Compare per-path digests of both sides (see :func:`digest`)."""
    live_by_id = {identity(path): (path, value) for path, value in live.items()}
    only_snapshot, changed = [], []
    unchanged = 0
    seen: set[Identity] = set()
    for path, value in snapshot.items():
        key = identity(path)
        seen.add(key)
        match = live_by_id.get(key)
        if match is None:
            only_snapshot.append(path)
        elif match[1] != value:
            changed.append(path)
        else:
            unchanged += 1
    only_live = [path for key, (path, _) in live_by_id.items() if key not in seen]
    return DiffResult(
        only_snapshot=tuple(sorted(only_snapshot)),
        only_live=tuple(sorted(only_live)),
        changed=tuple(sorted(changed)),
        unchanged=unchanged,
    )


def digests(objects: Mapping[str, Mapping[str, Any]]) -> dict[str, bytes]:
    """Per-path digests of whole objects (normalised first)."""
    return {path: digest(normalize(path, obj)) for path, obj in objects.items()}


def render(result: DiffResult, *, details: Mapping[str, str] | None = None) -> str:
    """The report: ``-`` only in the snapshot, ``+`` only in the cluster, ``~`` changed.

    ``details`` maps changed paths to a unified diff, printed under each.
    """
    lines: list[str] = []
    sections = (
        ("only in the snapshot (a restore would create them)", "-", result.only_snapshot),
        ("only in the cluster", "+", result.only_live),
        ("changed since the snapshot", "~", result.changed),
    )
    for title, mark, paths in sections:
        if not paths:
            continue
        lines.append(f"{len(paths)} {title}:")
        for path in paths:
            lines.append(f"  {mark} {path}")
            if details and path in details:
                lines.extend(f"      {line}" for line in details[path].splitlines())
    if result.excluded:
        lines.append(f"{len(result.excluded)} only in the snapshot, but a restore excludes them:")
        lines.extend(f"  x {path} ({reason})" for path, reason in sorted(result.excluded.items()))
    lines.append(
        f"{len(result.only_snapshot)} only in the snapshot, {len(result.only_live)} only in the cluster, "
        f"{len(result.changed)} changed, {result.unchanged} unchanged"
        + (f", {len(result.excluded)} excluded from a restore" if result.excluded else "")
    )
    return "\n".join(lines) + "\n"


def unified(path: str, snapshot: Mapping[str, Any], live: Mapping[str, Any]) -> str:
    """A unified diff of two normalised objects as YAML, snapshot first."""
    before = to_yaml(snapshot).splitlines(keepends=True)
    after = to_yaml(live).splitlines(keepends=True)
    lines = difflib.unified_diff(before, after, fromfile=f"snapshot {path}", tofile=f"cluster {path}", n=2)
    return "".join(lines)
