"""``k8ssnap snapshot``, ``restore`` and ``diff``: the commands that talk to a cluster.

``snapshot`` and ``restore`` are one-shot runs of the engines the
controller uses (:class:`~k8ssnap.snapshot.engine.SnapshotEngine`,
:class:`~k8ssnap.restore.engine.RestoreEngine`), for people without the
controller installed; they act with the kubeconfig's credentials. ``diff``
lists the live cluster (only one namespace with ``--namespace``, so
namespace-scoped credentials do) and compares it with a snapshot (see
:mod:`k8ssnap.app.cli_diff`); a resource it may not list is left out of the
comparison on both sides, with a warning, instead of being reported as gone.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from k8ssnap import errors, retry
from k8ssnap.app import cli_diff, cli_plan
from k8ssnap.app import cli_format as fmt
from k8ssnap.app.cli_source import LOCAL, Console, Source, read_archive, ticking
from k8ssnap.archive.index import RecordedSpec
from k8ssnap.archive.reader import Entry
from k8ssnap.domain import kinds
from k8ssnap.domain.facts import PlanFacts
from k8ssnap.domain.paths import (
    ApiResource,
    GroupResource,
    ObjectRef,
    collection_path,
    object_path,
    parse_path,
)
from k8ssnap.domain.placement import place
from k8ssnap.domain.plan import classify, exclusion_reason
from k8ssnap.domain.preference import Preference
from k8ssnap.domain.selection import select_resources
from k8ssnap.kube import discovery
from k8ssnap.kube.api import KubeApi
from k8ssnap.restore.engine import RestoreEngine
from k8ssnap.restore.job import RestoreJob, RestoreResult
from k8ssnap.snapshot.engine import SnapshotEngine, SnapshotJob
from k8ssnap.store import age

_PAGE = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOptions:
    """How hard to push the cluster: parallel requests, and how long to retry one."""

    concurrency: int
    backoff: retry.Backoff


async def snapshot(
    source: Source,
    name: str,
    *,
    kube: KubeApi,
    cluster_name: str,
    overwrite: bool,
    run: RunOptions,
    console: Console,
    recipients: age.Recipients | None = None,
) -> int:
    """Take a snapshot of the cluster into the source as the controller would, encrypted to ``recipients``."""
    await source.store.check()
    if not overwrite:
        for encrypted in (False, True):
            try:
                await source.store.archive(name, encrypted=encrypted)
            except errors.ArchiveMissing:
                continue
            raise errors.ConfigError(
                f"snapshot {name!r} already exists at {source.where(name)}; pass --overwrite to replace it"
            )
    spec = RecordedSpec(cluster_name=cluster_name, ttl=None, available_until=None, objectstore_config="")
    job = SnapshotJob(
        name=name, cluster_name=cluster_name, spec=spec, backoff=run.backoff, recipients=recipients
    )
    engine = SnapshotEngine(slots=asyncio.Semaphore(run.concurrency))
    progress = console.progress_line()
    try:
        outcome = await engine.run(
            job,
            kube=kube,
            store=source.store,
            progress=lambda count: progress.show(f"snapshot {name}: {count} objects"),
        )
    finally:
        progress.done()
    for note in outcome.skipped:
        console.warn(note)
    await source.record(name)  # so that where() names the key written
    console.out.write(
        f"snapshot {name}: {outcome.index.total} objects, {fmt.human_size(outcome.stored.size)}, "
        f"cluster {cluster_name} at resourceVersion {outcome.resource_version}, "
        f"stored at {source.where(name)}"
        f"{'' if recipients is None else f', encrypted to {len(recipients.keys)} age recipient(s)'}\n"
    )
    return 0


async def restore(
    source: Source,
    name: str | None,
    *,
    kube: KubeApi,
    preference: Preference,
    overwrite: bool,
    run: RunOptions,
    console: Console,
    dry_run: bool = False,
) -> int:
    """Restore a snapshot (``name``, or the local archive when None); 1 if any object failed.

    With ``dry_run`` nothing is written and the plan is printed as a table
    (:mod:`k8ssnap.app.cli_plan`); 1 if any object would fail.
    """
    key = name or LOCAL
    await source.require_archive(key)
    snapshot_name = name or await source.name_of_local()
    record = await source.record(key)
    decryption = await source.decryption(key)  # before anything is created
    checked = record is not None and decryption is None
    job = RestoreJob(
        snapshot_name=snapshot_name,
        expected_sha256=record.sha256 if checked and record is not None else "",
        expected_size=record.size if checked and record is not None else 0,
        preference=preference,
        overwrite_existing=overwrite,
        dry_run=dry_run,
        backoff=run.backoff,
        decryption=decryption,
    )
    doing = "planning a restore of" if dry_run else "restoring"
    console.info(f"{doing} snapshot {snapshot_name} from {source.where(key)} into {kube.host}")
    done = [0]

    def status(elapsed: float) -> str:
        return f"restoring {snapshot_name}: {done[0]} objects done ({elapsed:.0f} s)"

    async with ticking(console.progress_line(), status):
        result = await RestoreEngine(concurrency=run.concurrency).run(
            job, kube=kube, store=source.store, progress=lambda count: done.__setitem__(0, count)
        )
    if dry_run:
        console.out.write(cli_plan.plan_table(snapshot_name, result))
    else:
        console.out.write(restore_report(snapshot_name, result, verbose=console.verbose))
    return 1 if result.failed else 0


def restore_report(name: str, result: RestoreResult, *, verbose: bool) -> str:
    """The summary line, the failed objects, and with ``verbose`` every other list."""
    lines = [
        f"restore of {name}: {len(result.created)} created, {len(result.updated)} updated, "
        f"{len(result.already_existed)} already existed, {len(result.failed)} failed, "
        f"{len(result.excluded)} excluded, {result.num_preference_excluded} left out by the preference "
        f"(of {result.num_snapshot_contents} objects)"
    ]
    lists: list[tuple[str, tuple[str, ...]]] = [("failed", result.failed)]
    if verbose:
        lists += [
            ("excluded", result.excluded),
            ("created", result.created),
            ("updated", result.updated),
            ("already existed", result.already_existed),
        ]
    for title, entries in lists:
        if entries:
            lines.append(f"{title}:")
            lines.extend(f"  {entry}" for entry in entries)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffOptions:
    """What to compare: one namespace or all, what a preference leaves out, unified diffs or not."""

    namespace: str | None = None
    preference: Preference | None = None
    details: bool = False

    def wanted(self, ref: ObjectRef, obj: Mapping[str, Any]) -> bool:
        """Whether an archived object is compared (``namespace`` names an archived namespace)."""
        if self.namespace is not None and not cli_diff.in_namespace(ref, self.namespace):
            return False
        return self.preference is None or self.preference.object_exclusion(ref, obj) is None

    def wanted_live(self, ref: ObjectRef, obj: Mapping[str, Any]) -> bool:
        """:meth:`wanted` for a live object, seen at the archived namespace it would come from."""
        return self.wanted(self._unmapped(ref), obj)

    @property
    def live_namespace(self) -> str | None:
        """The namespace to list in the live cluster: ``namespace`` after ``namespaceMapping``."""
        if self.namespace is None:
            return None
        return self.plan.namespace_mapping.namespace(self.namespace)

    def _unmapped(self, ref: ObjectRef) -> ObjectRef:
        back = {to: source for source, to in self.plan.namespace_mapping.pairs.items()}
        if not back:
            return ref
        if ref.group_resource == kinds.NAMESPACES:
            return replace(ref, name=back.get(ref.name, ref.name))
        if ref.namespace is None:
            return ref
        return replace(ref, namespace=back.get(ref.namespace, ref.namespace))

    @property
    def plan(self) -> Preference:
        """The preference a restore would use: the given one, or none at all."""
        return self.preference or Preference.default()


@dataclass(slots=True)
class _Live:
    """Digests of the live objects, and the resources that could not be listed."""

    digests: dict[str, bytes] = field(default_factory=dict)
    skipped: set[GroupResource] = field(default_factory=set)
    failed_groups: set[str] = field(default_factory=set)

    def covers(self, ref: ObjectRef) -> bool:
        return ref.group_resource not in self.skipped and ref.group not in self.failed_groups


async def diff(
    source: Source, name: str, *, kube: KubeApi, options: DiffOptions, run: RunOptions, console: Console
) -> int:
    """Compare a snapshot with the live cluster and print what differs."""
    await source.require_archive(name)
    live = await _list_live(kube, options=options, run=run, console=console)
    live_by_id = {cli_diff.identity(path): (path, value) for path, value in live.digests.items()}
    snapshot: dict[str, bytes] = {}
    changed_bodies: dict[str, dict[str, Any]] = {}
    facts = PlanFacts(preference=options.plan)

    archived: dict[str, str] = {}  # destination path -> archived path (they differ when mapped)

    def take(entry: Entry) -> bool:
        ref, obj = parse_path(entry.path), orjson.loads(entry.body)
        facts.observe(classify(entry.path, obj, options.plan))
        if not (options.wanted(ref, obj) and live.covers(ref)):
            return False
        placed = place(entry.path, obj, options.plan)
        path = placed.ref.path
        archived[path] = entry.path
        value = snapshot[path] = cli_diff.digest(placed.body)
        match = live_by_id.get(cli_diff.identity(path))
        if options.details and match is not None and match[1] != value:
            changed_bodies[path] = placed.body
        return False

    progress = console.progress_line()
    await read_archive(source, name, on_entry=take, progress=progress, label=f"reading {name}")
    result = cli_diff.classify(snapshot, live.digests)
    if result.only_snapshot:
        wanted = {archived[path]: path for path in result.only_snapshot}
        reasons = await _excluded(source, name, set(wanted), facts, console)
        result = result.with_excluded({wanted[path]: reason for path, reason in reasons.items()})
    details: dict[str, str] = {}
    for path in result.changed if options.details else ():
        live_path = live_by_id[cli_diff.identity(path)][0]
        try:
            current = await retry.retrying(
                functools.partial(kube.get, live_path), backoff=run.backoff, what=f"GET {live_path}"
            )
        except errors.NotFound:
            details[path] = "(deleted from the cluster while comparing)"
            continue
        details[path] = cli_diff.unified(path, changed_bodies[path], cli_diff.normalize(live_path, current))
    console.out.write(cli_diff.render(result, details=details))
    return 0


async def _excluded(
    source: Source, name: str, paths: set[str], facts: PlanFacts, console: Console
) -> dict[str, str]:
    """The restore plan's exclusion reasons of ``paths``, from a second read of the archive."""
    reasons: dict[str, str] = {}

    def check(entry: Entry) -> bool:
        if entry.path in paths:
            reason = exclusion_reason(entry.path, orjson.loads(entry.body), facts)
            if reason is not None:
                reasons[entry.path] = reason
        return False

    progress = console.progress_line()
    await read_archive(source, name, on_entry=check, progress=progress, label=f"planning {name}")
    return reasons


async def _list_live(kube: KubeApi, *, options: DiffOptions, run: RunOptions, console: Console) -> _Live:
    found = await retry.retrying(lambda: discovery.discover(kube), backoff=run.backoff, what="discovery")
    live = _Live()
    for group_version, reason in sorted(found.failed.items()):
        live.failed_groups.add(group_version.rpartition("/")[0])
        console.warn(f"{group_version} not compared: {reason}")
    slots = asyncio.Semaphore(run.concurrency)
    progress = console.progress_line()

    async def one(resource: ApiResource) -> None:
        async with slots:
            try:
                async for path, item in _items(kube, resource, namespace=options.live_namespace, run=run):
                    if options.wanted_live(parse_path(path), item):
                        live.digests[path] = cli_diff.digest(cli_diff.normalize(path, item))
                progress.show(f"listing the cluster: {len(live.digests)} objects")
            except (errors.Forbidden, errors.NotFound, errors.Invalid) as exc:
                live.skipped.add(resource.group_resource)
                console.warn(f"{resource.group_resource} not compared: {exc.reason}")

    try:
        async with asyncio.TaskGroup() as group:
            for resource in select_resources(found.groups):
                group.create_task(one(resource))
    finally:
        progress.done()
    return live


async def _items(
    kube: KubeApi, resource: ApiResource, *, namespace: str | None, run: RunOptions
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """``(path, object)`` of every live object of ``resource`` (in ``namespace`` if given)."""
    if namespace is not None and not resource.namespaced:
        if resource.group_resource == kinds.NAMESPACES:
            path = f"/api/v1/namespaces/{namespace}"
            try:
                yield path, await retry.retrying(lambda: kube.get(path), backoff=run.backoff, what="GET")
            except errors.NotFound:
                return
        return
    collection = collection_path(resource, namespace)
    query: dict[str, str | int] = {"limit": _PAGE}
    while True:
        page = await retry.retrying(
            functools.partial(kube.get, collection, query), backoff=run.backoff, what=f"LIST {collection}"
        )
        for item in page.get("items") or []:
            item["apiVersion"], item["kind"] = resource.group_version, resource.kind
            meta = item["metadata"]
            yield object_path(resource, namespace=meta.get("namespace"), name=str(meta["name"])), item
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return
        query = {"limit": _PAGE, "continue": str(token)}
