"""Intake: stream, classify and spool an archive; refuse anything but the expected one."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from k8ssnap.archive.writer import ArchiveWriter
from k8ssnap.domain.preference import Preference
from k8ssnap.domain.tiers import Tier
from k8ssnap.errors import ArchiveError
from k8ssnap.restore.intake import take_in
from k8ssnap.restore.job import RestoreJob
from k8ssnap.restore.spool import Spool
from tests.unit.restore.fakes import META, T0, archive, store

OBJECTS: list[tuple[str, dict[str, Any]]] = [
    ("/api/v1/namespaces/keep", {"metadata": {"name": "keep"}}),
    ("/api/v1/namespaces/drop", {"metadata": {"name": "drop"}}),
    ("/api/v1/namespaces/keep/configmaps/c", {"metadata": {"name": "c", "namespace": "keep"}}),
    ("/api/v1/namespaces/drop/configmaps/c", {"metadata": {"name": "c", "namespace": "drop"}}),
    ("/apis/apps/v1/namespaces/keep/deployments/d", {"metadata": {"name": "d", "namespace": "keep"}}),
    ("/api/v1/namespaces/keep/services/s", {"metadata": {"name": "s", "namespace": "keep"}}),
]
RAW = archive("snap", OBJECTS)
PREFERENCE = Preference.from_spec({"excludeNamespaces": ["drop"]})


def job(**overrides: Any) -> RestoreJob:
    fields: dict[str, Any] = {
        "snapshot_name": "snap",
        "expected_sha256": hashlib.sha256(RAW).hexdigest(),
        "expected_size": len(RAW),
        "preference": PREFERENCE,
    }
    return RestoreJob(**(fields | overrides))


async def test_kept_objects_are_spooled_by_tier_and_the_rest_counted(tmp_path: Path) -> None:
    async with await Spool.create(parent=tmp_path) as spool:
        intake = await take_in(job(), store=store("snap", RAW), spool=spool)

        assert intake.num_snapshot_contents == 6
        assert intake.num_preference_excluded == 2
        tiers = {tier: [path async for path, _ in spool.records(tier)] for tier in Tier}
        assert tiers[Tier.NAMESPACES] == ["/api/v1/namespaces/keep"]
        assert tiers[Tier.IDENTITY] == ["/api/v1/namespaces/keep/configmaps/c"]
        assert tiers[Tier.GENERAL] == ["/api/v1/namespaces/keep/services/s"]
        assert tiers[Tier.APPS] == ["/apis/apps/v1/namespaces/keep/deployments/d"]
        (body,) = [b async for _, b in spool.records(Tier.APPS)]
        assert orjson.loads(body) == OBJECTS[4][1]
        assert intake.facts.namespace_restored("keep")
        assert not intake.facts.namespace_restored("drop")


def _not_json_archive() -> bytes:
    writer = ArchiveWriter(snapshot_name="snap", mtime=T0)
    return writer.add("/api/v1/namespaces/n", b"[1, 2]") + writer.finish(META)


@pytest.mark.parametrize(
    ("raw", "overrides", "reason"),
    [
        (RAW, {"expected_sha256": "ab" * 32}, "sha256"),
        (RAW, {"expected_size": len(RAW) + 1}, "bytes, but its record says"),
        (RAW, {"snapshot_name": "other"}, "holds snapshot 'snap', not 'other'"),
        (RAW[:-30], {"expected_sha256": "", "expected_size": 0}, "truncated"),
        (RAW[:40] + bytes(64) + RAW[104:], {"expected_sha256": ""}, "corrupt"),
        (_not_json_archive(), {"expected_sha256": "", "expected_size": 0}, "not a JSON object"),
    ],
)
async def test_anything_but_the_expected_archive_is_refused(
    tmp_path: Path, raw: bytes, overrides: dict[str, Any], reason: str
) -> None:
    damaged = store(overrides.get("snapshot_name", "snap"), raw)
    async with await Spool.create(parent=tmp_path) as spool:
        with pytest.raises(ArchiveError, match=reason):
            await take_in(job(**overrides), store=damaged, spool=spool)


async def test_unknown_checksum_and_size_check_integrity_only(tmp_path: Path) -> None:
    async with await Spool.create(parent=tmp_path) as spool:
        intake = await take_in(
            job(expected_sha256="", expected_size=0),
            store=store("snap", RAW, chunk=1 << 20),
            spool=spool,
        )
    assert intake.summary.sha256 == hashlib.sha256(RAW).hexdigest()
    assert intake.summary.size == len(RAW)
    assert intake.summary.index is None  # checked, then let go: a restore does not need its paths
