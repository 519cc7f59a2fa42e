"""``k8ssnap etcd-restore``: an etcd snapshot back onto a control-plane node, offline.

::

    k8ssnap etcd-restore NAME --data-dir DIR [--pki-dir DIR] [--identity FILE] [etcd member flags]

Downloads the archive of EtcdSnapshot NAME (decrypting it with ``--identity``
if it is age-encrypted), checks it against its record,
writes the certificate folder with safe modes (0700 folders, 0600 keys,
0644 certificates), and runs ``etcdutl snapshot restore`` with the member
flags, which checks etcd's own SHA-256 once more and writes a new data
folder. etcd must not be running on ``--data-dir``; etcdutl refuses an
existing one. On a real node the user brings etcdutl of the cluster's etcd
release (``--etcdutl``, default: the one on PATH).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from k8ssnap import errors
from k8ssnap.app import cli_format as fmt
from k8ssnap.app.cli_source import Console, Source
from k8ssnap.archive.etcd import EtcdRecord
from k8ssnap.restore import etcd as unpacking
from k8ssnap.store import layout

MEMBER_FLAGS = ("name", "initial-cluster", "initial-cluster-token", "initial-advertise-peer-urls", "wal-dir")


def add_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("snapshot", metavar="NAME", help="the EtcdSnapshot's name")
    sub.add_argument("--data-dir", type=Path, required=True, help="the new etcd data folder (must not exist)")
    sub.add_argument("--pki-dir", type=Path, help="write the archived certificate folder here")
    sub.add_argument("--overwrite-pki", action="store_true", help="replace files already in --pki-dir")
    sub.add_argument("--etcdutl", default="etcdutl", help="the etcdutl binary (default: from PATH)")
    member = sub.add_argument_group("etcd member flags (passed to etcdutl snapshot restore)")
    for flag in MEMBER_FLAGS:
        member.add_argument(f"--{flag}", dest=flag.replace("-", "_"))


@dataclass(frozen=True, slots=True, kw_only=True)
class EtcdRestoreOptions:
    name: str
    data_dir: Path
    pki_dir: Path | None
    overwrite_pki: bool
    etcdutl: str
    member_flags: tuple[str, ...]


def options(ns: argparse.Namespace) -> EtcdRestoreOptions:
    flags = tuple(
        f"--{flag}={getattr(ns, flag.replace('-', '_'))}"
        for flag in MEMBER_FLAGS
        if getattr(ns, flag.replace("-", "_")) is not None
    )
    return EtcdRestoreOptions(
        name=ns.snapshot,
        data_dir=ns.data_dir,
        pki_dir=ns.pki_dir,
        overwrite_pki=ns.overwrite_pki,
        etcdutl=ns.etcdutl,
        member_flags=flags,
    )


async def etcd_restore(source: Source, opts: EtcdRestoreOptions, console: Console) -> int:
    """Download, verify, write the PKI, run etcdutl; the exit code."""
    if opts.data_dir.exists() and any(opts.data_dir.iterdir()):
        raise errors.ConfigError(f"--data-dir {opts.data_dir} is not empty; etcd restores into a new folder")
    etcdutl = shutil.which(opts.etcdutl)
    if etcdutl is None:
        raise errors.ConfigError(f"etcdutl not found ({opts.etcdutl!r}); pass --etcdutl PATH")
    record = await unpacking.fetch_record(source.store.objects, opts.name, prefix=source.store.prefix)
    console.info(
        f"etcd snapshot {record.name}: etcd {record.etcd_version}, revision {record.revision}, "
        f"{record.db_size} bytes of database, taken {record.taken_at:%Y-%m-%d %H:%M:%S}Z"
    )
    opts.data_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".k8ssnap-etcd-", dir=opts.data_dir.parent) as work:
        archive = await unpacking.download(
            source.store.objects,
            record,
            prefix=source.store.prefix,
            into=Path(work),
            identities=source.identities,
        )
        unpacked = await asyncio.to_thread(
            unpacking.unpack,
            archive,
            record,
            db_into=Path(work),
            pki_dir=opts.pki_dir,
            overwrite_pki=opts.overwrite_pki,
        )
        archive.unlink()
        for path in unpacked.pki_files:
            console.info(f"wrote {path} ({path.stat().st_mode & 0o777:o})")
        argv = [etcdutl, "snapshot", "restore", str(unpacked.db), f"--data-dir={opts.data_dir}"]
        proc = await asyncio.to_thread(
            subprocess.run, [*argv, *opts.member_flags], capture_output=True, text=True, check=False
        )
    if proc.returncode != 0:
        console.err.write(proc.stderr[-4000:])
        raise errors.PermanentError(f"etcdutl snapshot restore failed with exit code {proc.returncode}")
    console.out.write(
        f"restored etcd snapshot {record.name} (revision {record.revision}) into {opts.data_dir}\n"
    )
    return 0


async def list_etcd_snapshots(source: Source, console: Console) -> None:
    """A second table for ``k8ssnap list``: the EtcdSnapshots under the prefix, if any."""
    folder = f"{source.store.prefix}{layout.ETCD_FOLDER}"
    records: list[EtcdRecord] = []
    async for item in source.store.objects.list(folder):
        if item.key.endswith(layout.RECORD_SUFFIX):
            try:
                records.append(EtcdRecord.from_json(await source.store.objects.get(item.key)))
            except errors.K8sSnapError as exc:
                console.warn(f"{item.key}: record not readable: {exc.reason}")
    if not records:
        return
    rows = (
        (r.name, r.etcd_version, str(r.revision), fmt.human_size(r.db_size), fmt.human_size(r.size),
         "yes" if r.private_keys else "no", fmt.format_time(r.taken_at))
        for r in sorted(records, key=lambda r: (r.taken_at, r.name))
    )  # fmt: skip
    headers = ("ETCD SNAPSHOT", "ETCD", "REVISION", "DB", "SIZE", "KEYS", "TIME")
    console.out.write("\n" + fmt.table(headers, rows, numeric=(2, 3, 4)))
