"""Spool records and files: round trips under any chunking, ordering, clean-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8ssnap.domain.tiers import Tier
from k8ssnap.restore.spool import FLUSH_AT, RecordDecoder, Spool, encode_record

RECORDS = [
    ("/api/v1/namespaces/a", b'{"kind":"Namespace"}'),
    ("/api/v1/namespaces/a/configmaps/empty", b""),
    ("/apis/rbac.authorization.k8s.io/v1/clusterroles/system:x", b'{"rules":[]}' * 50),
    ("/api/v1/namespaces/\u00e9t\u00e9/configmaps/unicode", '{"d":"\u2603"}'.encode()),
]


@pytest.mark.parametrize("chunk", [1, 2, 7, 8, 9, 64, 1 << 20])
def test_records_decode_from_any_chunking(chunk: int) -> None:
    raw = b"".join(encode_record(path, body) for path, body in RECORDS)
    decoder = RecordDecoder()
    decoded = []
    for start in range(0, len(raw), chunk):
        decoded += decoder.feed(raw[start : start + chunk])
    decoder.close()
    assert decoded == RECORDS


@pytest.mark.parametrize("cut", [1, 7, 8, 20])
def test_a_partial_record_is_reported_at_close(cut: int) -> None:
    raw = encode_record(*RECORDS[2])
    decoder = RecordDecoder()
    assert decoder.feed(raw[:-cut]) == []
    with pytest.raises(ValueError, match="ends inside a record"):
        decoder.close()


async def test_tiers_read_back_in_order_across_flushes(tmp_path: Path) -> None:
    big = b"x" * (FLUSH_AT // 3)
    async with await Spool.create(parent=tmp_path) as spool:
        for i in range(10):
            await spool.add(Tier.GENERAL, f"/api/v1/namespaces/n/configmaps/c{i}", big + str(i).encode())
        await spool.add(Tier.NAMESPACES, "/api/v1/namespaces/n", b"{}")
        await spool.seal()
        assert [spool.count(t) for t in Tier] == [1, 0, 0, 0, 10, 0]
        general = [record async for record in spool.records(Tier.GENERAL)]
        assert [path.rsplit("/", 1)[1] for path, _ in general] == [f"c{i}" for i in range(10)]
        assert all(body == big + str(i).encode() for i, (_, body) in enumerate(general))
        assert [r async for r in spool.records(Tier.NAMESPACES)] == [("/api/v1/namespaces/n", b"{}")]
        assert [r async for r in spool.records(Tier.APPS)] == []
    assert list(tmp_path.iterdir()) == []


async def test_the_directory_is_removed_when_leaving_on_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with await Spool.create(parent=tmp_path) as spool:
            await spool.add(Tier.APPS, "/apis/apps/v1/namespaces/n/deployments/d", b"{}")
            assert list(spool.directory.iterdir())
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


async def test_reading_needs_a_seal_and_writing_ends_with_it(tmp_path: Path) -> None:
    async with await Spool.create(parent=tmp_path) as spool:
        await spool.add(Tier.APPS, "/apis/apps/v1/namespaces/n/deployments/d", b"{}")
        with pytest.raises(RuntimeError, match="seal"):
            await anext(spool.records(Tier.APPS))
        await spool.seal()
        with pytest.raises(RuntimeError, match="sealed"):
            await spool.add(Tier.APPS, "/apis/apps/v1/namespaces/n/deployments/e", b"{}")
