"""``k8ssnap``: snapshots for a person at a terminal, with or without the controller.

::

    k8ssnap list                                  snapshots in the bucket
    k8ssnap show SNAPSHOT [--by namespace|kind]   what one holds (and check it)
    k8ssnap get SNAPSHOT PATH                     one object, as YAML
    k8ssnap diff SNAPSHOT [--namespace NS]        the snapshot against the live cluster
    k8ssnap snapshot NAME [--output FILE.tgz]     take one, without the controller
    k8ssnap restore NAME [--preference FILE]      restore one, without the controller
    k8ssnap etcd-restore NAME --data-dir DIR      an EtcdSnapshot onto a control-plane node
    k8ssnap keygen [-o FILE]                      a new age identity and recipient

Encrypted snapshots (docs/encryption.md) are listed without a key; ``show``,
``get``, ``diff`` and ``restore`` read them with ``--identity FILE``, and
``snapshot --recipient age1...`` writes one.

The bucket comes from ``--endpoint --bucket --region --prefix --insecure``
and the keys from ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (or
``--access-key``/``--secret-key``, which other users of the machine can see
in the process list); the secret key is never printed. ``--file FILE.tgz``
reads a local archive (written by ``snapshot --output``) instead of a bucket.
The cluster comes from ``--kubeconfig``, else ``$KUBECONFIG``, else
``~/.kube/config``, else the in-cluster service account.

Exit codes: 0 done, 1 the operation failed (the reason is printed; for
``restore``, also when any object failed), 2 wrong usage.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TextIO

import uvloop

from k8ssnap import errors
from k8ssnap.app import cli_args, cli_etcd, cli_format
from k8ssnap.app.cli_args import UsageError
from k8ssnap.app.cli_bucket import get, list_snapshots, show
from k8ssnap.app.cli_cluster import DiffOptions, RunOptions, diff, restore, snapshot
from k8ssnap.app.cli_keygen import keygen
from k8ssnap.app.cli_source import LOCAL, Console, SourceOptions, backoff, connect, open_source
from k8ssnap.domain.preference import Preference

Command = Callable[[argparse.Namespace, Console], Coroutine[Any, Any, int]]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def parser() -> argparse.ArgumentParser:
    """The whole command line (also what ``--help`` shows)."""
    root = argparse.ArgumentParser(
        prog="k8ssnap",
        description="Snapshots of every API object of a Kubernetes cluster, in S3.",
        epilog="Exit codes: 0 done, 1 the operation failed, 2 wrong usage.",
    )
    commands = root.add_subparsers(dest="command", metavar="COMMAND", required=True)
    common = cli_args.common_options()
    store = cli_args.store_options()
    kube = cli_args.kube_options()
    identity = cli_args.identity_options()

    def add(name: str, run: Command, text: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text, parents=[common, *parents])
        sub.set_defaults(run=run, parser=sub)
        return sub

    add("list", _list, "List the snapshots in the bucket.", store, identity)
    show = add(
        "show", _show, "Count a snapshot's objects by namespace and kind, checking it.", store, identity
    )
    cli_args.snapshot_or_file(show)
    show.add_argument("--by", choices=(cli_format.BY_NAMESPACE, cli_format.BY_KIND), default=None,
                      help="count per namespace or per kind only (default: both)")  # fmt: skip
    get = add("get", _get, "Print one object of a snapshot, without restoring anything.", store, identity)
    cli_args.snapshot_or_file(get)
    get.add_argument("path", metavar="PATH", help="API path, e.g. /api/v1/namespaces/default/configmaps/x")
    get.add_argument("-o", "--format", choices=("yaml", "json"), default="yaml", dest="output_format")
    get.add_argument("--restored", action="store_true",
                     help="print it as a restore would create it (server-set fields removed)")  # fmt: skip
    diff = add("diff", _diff, "Compare a snapshot with the live cluster.", store, kube, identity)
    diff.epilog = (
        "Objects are compared as a restore would create them: server-set fields and status are "
        "ignored. Objects the cluster rewrites by itself (Leases, Endpoints) show as changed; "
        "--preference artifacts/preference.yaml leaves them out."
    )
    cli_args.snapshot_or_file(diff)
    diff.add_argument("-n", "--namespace", help="only objects in this namespace (and the Namespace)")
    diff.add_argument("--preference", type=Path, metavar="FILE",
                      help="leave out what this RestorePreference leaves out of a restore")  # fmt: skip
    diff.add_argument("-d", "--details", action="store_true", help="print a unified diff of each change")
    snap = add("snapshot", _snapshot, "Take a snapshot now, without the controller.", store, kube)
    snap.add_argument("name", metavar="NAME", type=cli_args.snapshot_name, help="the snapshot's name")
    snap.add_argument("--cluster-name", help="recorded with the snapshot (default: the kubeconfig's)")
    snap.add_argument("--output", type=Path, metavar="FILE.tgz",
                      help="write the archive (and FILE.tgz.record.json) here instead of to S3")  # fmt: skip
    snap.add_argument("--overwrite", action="store_true", help="replace a snapshot of the same name")
    snap.add_argument("--recipient", action="append", metavar="age1...",
                      help="encrypt the archive to this age public key (repeat for several)")  # fmt: skip
    rst = add("restore", _restore, "Restore a snapshot now, without the controller.", store, kube, identity)
    cli_args.snapshot_or_file(rst)
    rst.add_argument("--preference", type=Path, metavar="FILE",
                     help="a RestorePreference manifest (or its spec) choosing what to restore")  # fmt: skip
    rst.add_argument("--overwrite-existing", action="store_true",
                     help="replace objects that already exist (default: leave them)")  # fmt: skip
    rst.add_argument("--dry-run", action="store_true",
                     help="plan the restore and check it with the cluster (dryRun=All); write nothing, "
                          "print the plan as a table")  # fmt: skip
    etcd = add(
        "etcd-restore", _etcd_restore, "Restore an EtcdSnapshot into a new etcd data folder.", store, identity
    )
    cli_etcd.add_arguments(etcd)
    keys = add("keygen", _keygen, "Make a new age identity (secret key) and print its recipient.")
    keys.add_argument("-o", "--output", type=Path, metavar="FILE",
                      help="write the identity to FILE (mode 0600) instead of stdout")  # fmt: skip
    return root


# -- commands: typed options from the namespace, then the work --------------------


async def _list(ns: argparse.Namespace, console: Console) -> int:
    async with open_source(_source(ns)) as source:
        code = await list_snapshots(source, console)
        await cli_etcd.list_etcd_snapshots(source, console)
        return code


async def _show(ns: argparse.Namespace, console: Console) -> int:
    async with open_source(_source(ns)) as source:
        return await show(source, _name(ns), by=ns.by, console=console)


async def _get(ns: argparse.Namespace, console: Console) -> int:
    path = cli_args.object_path(ns.path)
    async with open_source(_source(ns)) as source:
        return await get(
            source, _name(ns), path, output=ns.output_format, restored=ns.restored, console=console
        )


async def _diff(ns: argparse.Namespace, console: Console) -> int:
    options = DiffOptions(
        namespace=ns.namespace,
        preference=None if ns.preference is None else cli_args.load_preference(ns.preference),
        details=ns.details,
    )
    kubeconfig = cli_args.kubeconfig(ns.kubeconfig, os.environ)
    async with open_source(_source(ns)) as source, connect(kubeconfig) as kube:
        return await diff(source, _name(ns), kube=kube, options=options, run=_run(ns), console=console)


async def _keygen(ns: argparse.Namespace, console: Console) -> int:
    return keygen(ns.output, console)


async def _snapshot(ns: argparse.Namespace, console: Console) -> int:
    recipients = cli_args.recipients(ns.recipient)
    if recipients is not None and ns.output and not ns.output.name.endswith(".age"):
        console.warn(f"{ns.output} will hold an age-encrypted archive; a name ending in .tgz.age says so")
    kubeconfig = cli_args.kubeconfig(ns.kubeconfig, os.environ)
    cluster_name = ns.cluster_name or cli_args.cluster_name(kubeconfig)
    options = SourceOptions(file=ns.output) if ns.output else _source(ns)
    async with open_source(options) as source, connect(kubeconfig) as kube:
        return await snapshot(
            source,
            ns.name,
            kube=kube,
            cluster_name=cluster_name,
            overwrite=ns.overwrite,
            run=_run(ns),
            console=console,
            recipients=recipients,
        )


async def _restore(ns: argparse.Namespace, console: Console) -> int:
    preference = Preference.default() if ns.preference is None else cli_args.load_preference(ns.preference)
    kubeconfig = cli_args.kubeconfig(ns.kubeconfig, os.environ)
    async with open_source(_source(ns)) as source, connect(kubeconfig) as kube:
        return await restore(
            source,
            None if ns.file else ns.snapshot,
            kube=kube,
            preference=preference,
            overwrite=ns.overwrite_existing,
            dry_run=ns.dry_run,
            run=_run(ns),
            console=console,
        )


async def _etcd_restore(ns: argparse.Namespace, console: Console) -> int:
    async with open_source(_source(ns)) as source:
        return await cli_etcd.etcd_restore(source, cli_etcd.options(ns), console)


def _source(ns: argparse.Namespace) -> SourceOptions:
    identity = getattr(ns, "identity", None)
    if getattr(ns, "file", None):
        return SourceOptions(file=ns.file, retry_seconds=ns.retry_seconds, identity_file=identity)
    settings, prefix = cli_args.s3_settings(ns, os.environ)
    return SourceOptions(
        settings=settings, prefix=prefix, retry_seconds=ns.retry_seconds, identity_file=identity
    )


def _name(ns: argparse.Namespace) -> str:
    return LOCAL if ns.file else str(ns.snapshot)


def _run(ns: argparse.Namespace) -> RunOptions:
    return RunOptions(concurrency=ns.concurrency, backoff=backoff(ns.retry_seconds))


# -- entry point -----------------------------------------------------------------


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Entry point of ``k8ssnap``; returns the exit code."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    root = parser()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            ns = root.parse_args(argv)
    except SystemExit as exc:  # --help, or argparse's usage error (already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    sub: argparse.ArgumentParser = ns.parser
    try:
        cli_args.check(ns)
    except UsageError as exc:
        return _usage(sub, exc, err)
    tty = _isatty(err)
    console = Console(out=out, err=err, progress=ns.progress or tty, tty=tty, verbose=ns.verbose)
    _logging(err, verbose=ns.verbose)
    return _execute(ns, console, sub)


def _execute(ns: argparse.Namespace, console: Console, sub: argparse.ArgumentParser) -> int:
    run: Command = ns.run
    try:
        code: int = uvloop.run(run(ns, console))
    except KeyboardInterrupt:
        console.err.write(f"k8ssnap {ns.command}: interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as exc:
        failure = expected_failure(exc)
        if failure is None:
            raise  # a bug: the traceback is what a report needs
        if isinstance(failure, UsageError):
            return _usage(sub, failure, console.err)
        console.err.write(f"k8ssnap {ns.command}: {describe(failure)}\n")
        return EXIT_FAILED
    return code


Failure = UsageError | errors.K8sSnapError | OSError


def expected_failure(exc: BaseException) -> Failure | None:
    """The usage error, k8ssnap error or OSError ``exc`` is, or holds in a TaskGroup's group."""
    if isinstance(exc, Failure):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = expected_failure(inner)
            if found is not None:
                return found
    return None


def describe(failure: errors.K8sSnapError | OSError) -> str:
    """One line for a person: the k8ssnap reason, or what the system said about which file."""
    if isinstance(failure, errors.K8sSnapError):
        return failure.reason
    where = f": {failure.filename}" if failure.filename else ""
    return f"{failure.strerror or failure}{where}"


def _usage(sub: argparse.ArgumentParser, exc: UsageError, err: TextIO) -> int:
    sub.print_usage(err)
    err.write(f"{sub.prog}: error: {exc}\n")
    return EXIT_USAGE


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _logging(err: TextIO, *, verbose: bool) -> None:
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("k8ssnap: %(levelname)s: %(message)s"))
    log = logging.getLogger("k8ssnap")
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    log.propagate = False


if __name__ == "__main__":
    sys.exit(main())
