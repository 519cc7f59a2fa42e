"""The etcd archive: tar.gz readable by any tar, database entry as etcdctl saves it."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import tarfile

from k8ssnap.archive.etcd import EtcdArchiveWriter, EtcdMember, EtcdRecord

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC)


def _record(**changes: object) -> EtcdRecord:
    base = EtcdRecord(
        name="nightly", taken_at=NOW, etcd_version="3.5.35", revision=7,
        members=(EtcdMember(id="a1", name="m0", peer_urls=("http://p",), client_urls=("http://c",)),),
        endpoint="http://c", db_size=5000, db_sha256="ab" * 32, pki=".", pki_files=("ca.crt",),
    )  # fmt: skip
    return EtcdRecord(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, **changes})  # type: ignore[arg-type]


def test_archive_holds_marker_pki_database_and_record() -> None:
    db = bytes(range(250)) * 20
    body = db + hashlib.sha256(db).digest()
    writer = EtcdArchiveWriter(snapshot_name="nightly", mtime=NOW)
    out = writer.start([("ca.crt", b"CERT"), ("etcd/ca.key", b"KEY")])
    out += writer.begin_db(len(body))
    for i in range(0, len(body), 999):
        out += writer.db(body[i : i + 999])
    out += writer.finish(_record(db_size=len(db)))
    assert writer.size == len(out) and writer.sha256 == hashlib.sha256(out).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(out), mode="r:gz") as tar:
        names = tar.getnames()
        assert names == [
            "nightly/k8ssnap-format.json", "nightly/pki/ca.crt", "nightly/pki/etcd/ca.key",
            "nightly/etcd/snapshot.db", "nightly/etcd/record.json",
        ]  # fmt: skip
        member = tar.extractfile("nightly/etcd/snapshot.db")
        assert member is not None and member.read() == body
        record = tar.extractfile("nightly/etcd/record.json")
        assert record is not None
        assert EtcdRecord.from_json(record.read()).db_size == len(db)


def test_the_record_round_trips_and_holds_no_key_content() -> None:
    record = _record(sha256="cd" * 32, size=123, private_keys=True)
    raw = record.to_json()
    assert EtcdRecord.from_json(raw) == record
    assert b"PRIVATE" not in raw and b"KEY" not in raw.upper().replace(b"PRIVATEKEYS", b"")
