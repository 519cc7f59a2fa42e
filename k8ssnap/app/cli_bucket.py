"""``k8ssnap list``, ``show`` and ``get``: reading snapshots, never touching a cluster.

``list`` reads only the bucket listing and the small records beside the
archives. ``show`` streams a whole archive and checks it (gzip, tar, index,
and checksum and size against the record), so it doubles as a verification.
``get`` streams an archive only until the object it wants, after checking
the record's index that the object is there at all.
"""

from __future__ import annotations

import asyncio
import difflib
from typing import Any

import orjson

from k8ssnap import errors
from k8ssnap.app import cli_format as fmt
from k8ssnap.app.cli_source import Console, Source, read_archive
from k8ssnap.archive.reader import Entry
from k8ssnap.domain.transform import transform
from k8ssnap.store.objectstore import StoredObject

_RECORD_READS = 8


async def list_snapshots(source: Source, console: Console) -> int:
    """A table of the snapshots under the source's prefix."""
    archives = (await source.store.listing()).archives
    if not archives:
        console.info(f"no snapshots at {source.where()}")
        return 0
    slots = asyncio.Semaphore(_RECORD_READS)

    async def row(name: str, archive: StoredObject) -> fmt.SnapshotRow:
        async with slots:
            try:
                record = await source.record(name)
            except errors.K8sSnapError as exc:
                console.warn(f"{name}: record not readable: {exc.reason}")
                record = None
        if record is None:
            return fmt.SnapshotRow(name=name, size=archive.size, time=archive.last_modified)
        index = record.index
        return fmt.SnapshotRow(
            name=name,
            size=archive.size,
            time=index.snapshot_timestamp,
            objects=index.total,
            cluster=index.cluster_name,
            schedule=record.spec.schedule,
        )

    rows = await asyncio.gather(*(row(name, archive) for name, archive in archives.items()))
    console.out.write(fmt.snapshot_table(rows))
    return 0


async def show(source: Source, name: str, *, by: str | None, console: Console) -> int:
    """What a snapshot holds, counted by namespace and kind; the archive is checked on the way."""
    await source.require_archive(name)
    counts: dict[tuple[str, str], int] = {}

    def count(entry: Entry) -> bool:
        key = fmt.entry_labels(entry.path)
        counts[key] = counts.get(key, 0) + 1
        return False

    progress = console.progress_line()
    summary = await read_archive(source, name, on_entry=count, progress=progress, label=f"reading {name}")
    assert summary is not None
    record = await source.record(name)
    lines = [("snapshot", summary.snapshot_name), ("stored at", source.where(name))]
    if summary.index is not None:
        index = summary.index
        lines += [
            ("cluster", index.cluster_name),
            ("taken", f"{fmt.format_time(index.snapshot_timestamp)} "
                      f"at resourceVersion {index.snapshot_resource_version}"),
        ]  # fmt: skip
    else:
        lines.append(("format", "k8s-snap (no index)"))
    checked = "matches its record" if record is not None else "no record to check it against"
    lines += [
        ("archive", f"{fmt.human_size(summary.size)}, sha256 {summary.sha256}, {checked}"),
        ("objects", str(summary.count)),
    ]
    console.out.write("".join(f"{key + ':':<11}{value}\n" for key, value in lines))
    console.out.write("\n" + fmt.counts_table(counts, by=by))
    return 0


async def get(source: Source, name: str, path: str, *, output: str, restored: bool, console: Console) -> int:
    """Print one archived object as YAML or JSON (as a restore would create it, with ``restored``)."""
    await source.require_archive(name)
    record = await source.record(name)
    if record is not None and path not in set(record.index.paths):
        raise errors.ConfigError(_not_found(name, path, record.index.paths))
    found: dict[str, Any] = {}

    def pick(entry: Entry) -> bool:
        if entry.path != path:
            return False
        found["object"] = orjson.loads(entry.body)
        return True

    progress = console.progress_line()
    await read_archive(source, name, on_entry=pick, progress=progress, label=f"reading {name}")
    if "object" not in found:
        raise errors.ConfigError(_not_found(name, path, ()))
    obj = found["object"]
    if restored:
        obj = transform(path, obj)
    console.out.write(fmt.to_json(obj) if output == "json" else fmt.to_yaml(obj))
    return 0


def _not_found(name: str, path: str, paths: tuple[str, ...]) -> str:
    """The error text, with up to three near misses (same collection or same name)."""
    message = f"{path} is not in snapshot {name}"
    collection, _, object_name = path.rpartition("/")
    nearby = [p for p in paths if p.startswith(collection + "/") or p.endswith("/" + object_name)]
    close = difflib.get_close_matches(path, nearby, n=3, cutoff=0.6)
    if close:
        message += "; did you mean " + " or ".join(close) + "?"
    return message
