"""What the ``k8ssnap`` CLI prints: tables, sizes, times, counts, YAML.

Pure functions from values to text, so the CLI's output is tested without
a cluster or a bucket. Tables are kubectl's: upper-case headers, columns
padded with three spaces, numbers right-aligned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from k8ssnap.domain import kinds, timestamps
from k8ssnap.domain.paths import GroupResource, parse_path

CLUSTER_SCOPED = "(cluster)"
MISSING = "-"
BY_NAMESPACE = "namespace"
BY_KIND = "kind"
_GAP = "   "
_LEADING_KEYS = ("apiVersion", "kind", "metadata")
_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human_size(size: int) -> str:
    """``512 B``, ``1.5 KiB``, ``12.0 MiB``: binary units, one decimal above bytes."""
    value = float(size)
    for unit in _UNITS:
        if value < 1024 or unit == _UNITS[-1]:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_time(when: dt.datetime) -> str:
    """UTC, to the second, as kubectl prints times: ``2026-11-21T01:39:02Z``."""
    return timestamps.format_time(when if when.tzinfo else when.replace(tzinfo=dt.UTC))


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Iterable[int] = ()) -> str:
    """Rows under headers in padded columns; columns in ``numeric`` are right-aligned."""
    lines = [list(headers), *(list(row) for row in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers))]
    right = set(numeric)
    out = []
    for line in lines:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]) for i, cell in enumerate(line)
        ]
        out.append(_GAP.join(cells).rstrip())
    return "\n".join(out) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotRow:
    """One snapshot in a bucket. ``objects``/``cluster`` are None without a readable record."""

    name: str
    size: int
    time: dt.datetime
    objects: int | None = None
    cluster: str | None = None
    #: The SnapshotSchedule that made it; "" for none, None without a readable record.
    schedule: str | None = None


def snapshot_table(rows: Iterable[SnapshotRow]) -> str:
    """``k8ssnap list``: oldest first, so the newest is next to the prompt."""
    ordered = sorted(rows, key=lambda r: (r.time, r.name))
    return table(
        ("NAME", "CLUSTER", "SCHEDULE", "OBJECTS", "SIZE", "TIME"),
        (
            (
                r.name,
                r.cluster or MISSING,
                r.schedule or MISSING,
                MISSING if r.objects is None else str(r.objects),
                human_size(r.size),
                format_time(r.time),
            )
            for r in ordered
        ),
        numeric=(3, 4),
    )


def resource_label(resource: GroupResource) -> str:
    """kubectl's name of a resource: ``configmaps``, ``deployments.apps``."""
    return str(resource)


def entry_labels(path: str) -> tuple[str, str]:
    """``(namespace, resource)`` of an archived object, for counting.

    A Namespace object counts in the namespace it is, so ``--by namespace``
    shows a namespace's whole footprint; other cluster-scoped objects count
    under ``(cluster)``.
    """
    ref = parse_path(path)
    is_namespace = ref.group_resource == kinds.NAMESPACES
    namespace = ref.name if is_namespace else ref.namespace or CLUSTER_SCOPED
    return namespace, resource_label(ref.group_resource)


def count_entries(paths: Iterable[str]) -> dict[tuple[str, str], int]:
    """Objects per ``(namespace, resource)``."""
    counts: dict[tuple[str, str], int] = {}
    for path in paths:
        key = entry_labels(path)
        counts[key] = counts.get(key, 0) + 1
    return counts


def counts_table(counts: Mapping[tuple[str, str], int], *, by: str | None) -> str:
    """``k8ssnap show``: counts per namespace and resource, per namespace, or per resource.

    Rows are sorted by name, ``(cluster)`` first; a TOTAL row ends the table.
    """
    if by == BY_NAMESPACE:
        headers: tuple[str, ...] = ("NAMESPACE", "OBJECTS")
        grouped = _group(counts, lambda key: (key[0],))
    elif by == BY_KIND:
        headers = ("KIND", "OBJECTS")
        grouped = _group(counts, lambda key: (key[1],))
    elif by is None:
        headers = ("NAMESPACE", "KIND", "OBJECTS")
        grouped = _group(counts, lambda key: key)
    else:
        raise ValueError(f"cannot count by {by!r}")
    rows = [(*key, str(n)) for key, n in sorted(grouped.items(), key=lambda item: _order(item[0]))]
    total = ("TOTAL", *([""] * (len(headers) - 2)), str(sum(counts.values())))
    return table(headers, [*rows, total], numeric=(len(headers) - 1,))


def _group(
    counts: Mapping[tuple[str, str], int], pick: Callable[[tuple[str, str]], tuple[str, ...]]
) -> dict[tuple[str, ...], int]:
    grouped: dict[tuple[str, ...], int] = {}
    for key, n in counts.items():
        label = pick(key)
        grouped[label] = grouped.get(label, 0) + n
    return grouped


def _order(key: tuple[str, ...]) -> tuple[bool, tuple[str, ...]]:
    return (key[0] != CLUSTER_SCOPED, key)


class _Dumper(yaml.SafeDumper):
    """kubectl's YAML: block style, keys in their order, multi-line strings as ``|`` blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value and not _has_trailing_space(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _has_trailing_space(value: str) -> bool:
    # A literal block cannot keep spaces at the end of a line; PyYAML falls back to quotes.
    return any(line != line.rstrip(" \t") for line in value.split("\n"))


_Dumper.add_representer(str, _represent_str)


def kubectl_order(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The same object with ``apiVersion``, ``kind`` and ``metadata`` first, as kubectl shows it.

    Archived objects come from LISTs, which leave ``apiVersion`` and ``kind``
    out; the snapshot adds them at the end.
    """
    first = {key: obj[key] for key in _LEADING_KEYS if key in obj}
    return {**first, **{key: value for key, value in obj.items() if key not in first}}


def to_yaml(obj: Mapping[str, Any]) -> str:
    """One object as YAML, as ``kubectl get -o yaml`` would print it."""
    text: str = yaml.dump(
        kubectl_order(obj), Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
    return text


def to_json(obj: Mapping[str, Any]) -> str:
    """One object as indented JSON, in kubectl's key order."""
    return orjson.dumps(kubectl_order(obj), option=orjson.OPT_INDENT_2).decode() + "\n"
