"""Hostile archives (issue 11, faults 3, 10 and 11): each is refused, bounded, or reported, never obeyed."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from k8ssnap import limits, retry
from k8ssnap.archive.reader import INFLATE_STEP, ArchiveReader
from k8ssnap.archive.tarstream import encode_end, encode_member
from k8ssnap.domain.preference import Preference
from k8ssnap.errors import ArchiveError
from k8ssnap.restore import RestoreEngine, RestoreJob
from k8ssnap.restore.intake import take_in
from k8ssnap.restore.spool import Spool
from k8ssnap.store.snapshots import SnapshotStore
from k8ssnap.testing.store import FakeObjectStore
from tests.unit.restore.fakes import FakeApiServer, archive, store

NS = "/api/v1/namespaces/n"
MiB = 1 << 20


def configmap(name: str, namespace: str = "n", **extra: Any) -> dict[str, Any]:
    return {"kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, **extra}


def legacy(members: list[tuple[str, bytes]], *, tail: bytes = b"") -> bytes:
    """A k8s-snap (version 0) archive of raw bodies, with ``tail`` after the tar end marker."""
    raw = b"".join(encode_member(f"snap{path}.json", body, mtime=0) for path, body in members)
    return gzip.compress(raw + encode_end(len(raw)) + tail, compresslevel=1)


def read(raw: bytes) -> list[str]:
    reader = ArchiveReader()
    paths = [entry.path for entry in reader.feed(raw)]
    reader.close()
    return paths


def wrapped(junk: bytes) -> bytes:
    """A ConfigMap whose body carries ``junk`` as the value of an extra field."""
    return b'{"kind":"ConfigMap","metadata":{"name":"c","namespace":"n"},"junk":' + junk + b"}"


def job(raw: bytes, **overrides: Any) -> RestoreJob:
    fields: dict[str, Any] = {
        "snapshot_name": "snap",
        "expected_sha256": hashlib.sha256(raw).hexdigest(),
        "expected_size": len(raw),
        "preference": Preference.default(),
        "backoff": retry.Backoff(initial=0.0, max_elapsed=5.0),
    }
    return RestoreJob(**(fields | overrides))


# -- fault 3: one small archive must not take the controller's memory ------------------------------


def test_fault_3_an_entry_over_the_size_cap_is_refused() -> None:
    body = wrapped(b'"' + b"a" * (limits.MAX_ENTRY_SIZE + 1) + b'"')
    with pytest.raises(ArchiveError, match="too large"):
        read(legacy([(f"{NS}/configmaps/c", body)]))


@pytest.mark.parametrize(
    ("junk", "reason"),
    [
        pytest.param(b"[" + b"{}," * 700_000 + b"{}]", "too many JSON objects", id="700k-empty-objects"),
        pytest.param(b"[" + b"0," * 1_200_000 + b"0]", "too many JSON elements", id="1.2M-numbers"),
        pytest.param(b"[" * 250 + b"]" * 250, "levels deep", id="depth-250"),
        pytest.param(b'{"a":' * 220 + b"1" + b"}" * 220, "levels deep", id="depth-220-objects"),
    ],
)
def test_fault_3_json_too_large_in_shape_is_refused_before_parsing(junk: bytes, reason: str) -> None:
    with pytest.raises(ArchiveError, match=reason):
        read(legacy([(f"{NS}/configmaps/c", wrapped(junk))]))


def test_fault_3_json_bounds_leave_deep_but_legal_objects_alone() -> None:
    nested = b'{"a":' * 190 + b"1" + b"}" * 190
    noisy = orjson.dumps("[{," * 5000 + '\\"]}')  # brackets and quotes inside a string do not nest
    body = wrapped(b'{"deep":' + nested + b',"noise":' + noisy + b"}")
    assert orjson.loads(body)
    assert read(legacy([(f"{NS}/configmaps/c", body)])) == [f"{NS}/configmaps/c"]


async def test_fault_3_a_download_past_the_recorded_size_is_abandoned(tmp_path: Path) -> None:
    raw = archive(
        "snap", [(f"{NS}/configmaps/c{i}", configmap(f"c{i}", data={"i": str(i)})) for i in range(400)]
    )
    bucket = FakeObjectStore(objects={"snap.tgz": raw}, chunk=256)
    total = -(-len(raw) // 256)
    async with await Spool.create(parent=tmp_path) as spool:
        with pytest.raises(ArchiveError, match="larger than"):
            await take_in(job(raw, expected_size=len(raw) // 4), store=SnapshotStore(bucket), spool=spool)
    assert bucket.chunks_served <= total // 4 + 1, f"{bucket.chunks_served} of {total} chunks downloaded"
    assert bucket.downloads_closed == 1


async def test_fault_3_the_spool_stops_at_its_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Highly compressible objects: the spool stops at its cap (here 8x the archive)."""
    monkeypatch.setattr(limits, "SPOOL_FLOOR", 0)
    monkeypatch.setattr(limits, "SPOOL_INFLATION", 8)
    filler = "x" * 4000
    raw = archive(
        "snap", [(f"{NS}/configmaps/c{i}", configmap(f"c{i}", data={"f": filler})) for i in range(2000)]
    )
    cap = 8 * len(raw)
    async with await Spool.create(parent=tmp_path) as spool:
        with pytest.raises(ArchiveError, match="inflates beyond"):
            await take_in(job(raw), store=store("snap", raw, chunk=4096), spool=spool)
        assert spool.size <= cap + INFLATE_STEP + 8 * 1024


# -- fault 11: padding after the tar end marker, and a loop held by inflation --------------------


def test_fault_11_padding_after_the_end_marker_is_capped() -> None:
    members = [(f"{NS}/configmaps/c", orjson.dumps(configmap("c")))]
    assert read(legacy(members, tail=bytes(64 * 1024))) == [
        f"{NS}/configmaps/c"
    ]  # a generous blocking factor
    with pytest.raises(ArchiveError, match="padding after the tar end marker"):
        read(legacy(members, tail=bytes(limits.MAX_TRAILING_ZEROS + 512)))


async def test_fault_11_intake_yields_to_the_loop_between_inflate_steps(tmp_path: Path) -> None:
    """One downloaded chunk that inflates to ~9 MiB of excluded objects must not hold the loop throughout."""
    filler = "y" * 3000
    objects = [
        (f"/api/v1/namespaces/drop/configmaps/c{i}", configmap(f"c{i}", "drop", data={"f": filler}))
        for i in range(3000)
    ]
    raw = archive("snap", objects)
    preference = Preference.from_spec({"excludeNamespaces": ["drop"]})
    ticks = 0
    done = False

    async def ticker() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    running = asyncio.create_task(ticker())
    async with await Spool.create(parent=tmp_path) as spool:
        whole = store("snap", raw, chunk=len(raw))  # the whole archive in one chunk
        intake = await take_in(job(raw, preference=preference), store=whole, spool=spool)
    done = True
    await running
    assert intake.num_preference_excluded == 3000
    assert ticks >= 5, f"the loop ran {ticks} times while 9 MiB were inflated"


# -- fault 10: an entry whose body names another object than its path ---------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        pytest.param(configmap("other"), "named 'other'", id="name"),
        pytest.param(configmap("c", "elsewhere"), "namespace 'elsewhere'", id="namespace"),
        pytest.param({"kind": "ConfigMap", "metadata": {"name": "c"}}, "namespace None", id="no-namespace"),
    ],
)
async def test_fault_10_an_entry_whose_body_differs_from_its_path_fails(
    tmp_path: Path, body: dict[str, Any], reason: str
) -> None:
    path = f"{NS}/configmaps/c"
    raw = archive("s", [(NS, {"kind": "Namespace", "metadata": {"name": "n"}}), (path, body)])
    kube = FakeApiServer()
    restore_job = job(raw, snapshot_name="s")
    result = await RestoreEngine(concurrency=2, spool_dir=tmp_path).run(
        restore_job, kube=kube, store=store("s", raw)
    )
    (failure,) = [entry for entry in result.failed if entry.startswith(f"{path},")]
    assert reason in failure
    assert path not in result.created
    assert [p for _, p in kube.writes if "/configmaps" in p] == []
