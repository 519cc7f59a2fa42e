"""Peak memory of restore intake on hostile archives (issue 11, fault 3): ``python -m bench.hostile_rss``.

The archives are built here, written to files, and each is taken in by a
fresh subprocess (peak RSS is per process), which reads the file, streams
it through :func:`k8ssnap.restore.intake.take_in` from an in-memory store
in 64 KiB chunks, and prints the outcome, the time taken and ``ru_maxrss``.
``baseline`` takes in a one-object archive, so the difference is what the
hostile input cost. Not part of the test suite.

Cases:

* ``list-20mib``: the issue's archive, one 20 MiB entry ``[{},{},...]``
  (about 20 KiB compressed);
* ``object-7mib``: a ConfigMap under the 8 MiB entry cap carrying a
  7 MiB array of empty objects (what the entry cap alone does not stop);
* ``zeros-1gib``: 1 GiB of NULs after the tar end marker.
"""

from __future__ import annotations

import asyncio
import hashlib
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

CASES = ("baseline", "list-20mib", "object-7mib", "zeros-1gib")
"""``baseline`` is one small ConfigMap."""
PATH = "/api/v1/namespaces/n/configmaps/c"


def _gzip_stream(parts: list[bytes], *, zeros: int = 0) -> bytes:
    deflate = zlib.compressobj(6, zlib.DEFLATED, 31)
    out = [deflate.compress(part) for part in parts]
    block = bytes(1 << 20)
    out.extend(deflate.compress(block) for _ in range(zeros >> 20))
    out.append(deflate.flush())
    return b"".join(out)


def build(case: str) -> bytes:
    """A version-0 (k8s-snap) archive: no index needed, the same intake path."""
    from k8ssnap.archive.tarstream import encode_end, encode_member

    if case == "list-20mib":
        body = b"[" + b"{}," * (20 * (1 << 20) // 3) + b"{}]"
    else:
        junk = b"[" + b"{}," * (7 * (1 << 20) // 3) + b"{}]" if case == "object-7mib" else b"{}"
        body = b'{"kind":"ConfigMap","metadata":{"name":"c","namespace":"n"},"junk":' + junk + b"}"
    member = encode_member(f"snap{PATH}.json", body, mtime=0)
    tar = member + encode_end(len(member))
    return _gzip_stream([tar], zeros=(1 << 30) if case == "zeros-1gib" else 0)


async def _intake(raw: bytes) -> str:
    from k8ssnap import errors
    from k8ssnap.domain.preference import Preference
    from k8ssnap.restore.intake import take_in
    from k8ssnap.restore.job import RestoreJob
    from k8ssnap.restore.spool import Spool
    from k8ssnap.store.snapshots import SnapshotStore
    from k8ssnap.testing.store import FakeObjectStore

    job = RestoreJob(
        snapshot_name="snap",
        expected_sha256=hashlib.sha256(raw).hexdigest(),
        expected_size=len(raw),
        preference=Preference.default(),
    )
    with tempfile.TemporaryDirectory() as parent:
        async with await Spool.create(parent=Path(parent)) as spool:
            try:
                store = SnapshotStore(FakeObjectStore(objects={"snap.tgz": raw}, chunk=1 << 16))
                await take_in(job, store=store, spool=spool)
            except errors.K8sSnapError as exc:
                return f"refused: {exc.reason[:90]}"
    return "accepted"


def run_case(case: str, archive: Path) -> None:
    import k8ssnap.restore.intake  # noqa: F401 - imported before timing

    raw = archive.read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    outcome = asyncio.run(_intake(raw))
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{case:12} {len(raw) / 1024:6.0f} KiB  {elapsed:6.2f} s  "
        f"peak RSS {before:4.0f} -> {peak:4.0f} MiB  {outcome}"
    )


def main() -> None:
    """Build in one subprocess, take in each in another: Linux keeps the peak RSS across exec."""
    if sys.argv[1:2] == ["--build"]:
        for case in CASES:
            (Path(sys.argv[2]) / f"{case}.tgz").write_bytes(build(case))
        return
    if len(sys.argv) > 1:
        run_case(sys.argv[1], Path(sys.argv[2]))
        return
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "bench.hostile_rss", "--build", folder], check=True)
        for case in CASES:
            archive = str(Path(folder) / f"{case}.tgz")
            subprocess.run([sys.executable, "-m", "bench.hostile_rss", case, archive], check=True)


if __name__ == "__main__":
    main()
