"""The one phase machine of a job kind (Snapshot, Restore, and the kinds to come).

Phases are k8s-snap's: "" -> InQueue -> InProgress -> Completed | Failed,
then deletion once the job's time is up. :class:`Lifecycle` does every step
that does not depend on the kind, each with its Event and metrics:

* :meth:`Lifecycle.unparsable` -- a spec that does not parse: Failed with the
  parser's reason (once);
* :meth:`Lifecycle.step` -- by phase:

  - "" : AvailableUntil in the past -> Failed
    (:data:`~k8ssnap.api.status.REASON_AVAILABLE_UNTIL_PAST`), else InQueue;
  - InQueue or InProgress: claim InProgress, run, then Completed, or Failed
    with the kind's expiry on any error (an unexpected one too). A job found
    InProgress at the server's current version was interrupted by a restart
    (the work queue never hands one key to two workers), so it runs again,
    its attempt counted first (:mod:`k8ssnap.controllers.attempts`); after
    :data:`~k8ssnap.controllers.attempts.MAX_INTERRUPTED` it goes Failed. The
    outcome is reported by :mod:`k8ssnap.controllers.outcomes`: retried, and
    never a reason to run the work again; an error while building the report
    after the work is done fails the job instead of running it again;
  - Completed or Failed: delete at the kind's deletion time (or requeue then).

Every transition decided from the cache (accepting, claiming, expiring) is
preconditioned on the cached resourceVersion (see
:meth:`~k8ssnap.controllers.context.Context.write_status` and
docs/architecture.md): the cache lags behind our own writes, and without the
precondition a finished job could be claimed and run again. The write that
reports the outcome of work already claimed is not preconditioned.

A kind supplies a :class:`JobKind`: its status builders, how to claim and run
one job, and when it is due for deletion. See docs/architecture.md, "Adding a
job kind".
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from k8ssnap import errors
from k8ssnap.api import constants, status
from k8ssnap.controllers import attempts, outcomes
from k8ssnap.controllers.context import Context, Subject
from k8ssnap.kube.api import KubeApi
from k8ssnap.runtime import memory
from k8ssnap.runtime.controller import Requeue
from k8ssnap.runtime.metrics import Registry
from k8ssnap.store.snapshots import SnapshotStore

log = logging.getLogger(__name__)

J = TypeVar("J")
R = TypeVar("R")
J_contra = TypeVar("J_contra", contravariant=True)
R_contra = TypeVar("R_contra", contravariant=True)
Out_co = TypeVar("Out_co", covariant=True)

DURATION_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)


@dataclass(frozen=True, slots=True, kw_only=True)
class Claim:
    """The InProgress status that claims a job, and its Event message."""

    status: Mapping[str, Any]
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Done:
    """A job that ran to the end: its Completed status, its Event message (the
    lifecycle adds the elapsed time) and what to record in per-object metrics."""

    status: Mapping[str, Any]
    message: str
    record: Callable[[], None] = lambda: None


class Engine(Protocol[J_contra, Out_co]):
    """What a reconciler needs of its engine (or of a fake): run one job on one cluster and store."""

    async def run(
        self,
        job: J_contra,
        *,
        kube: KubeApi,
        store: SnapshotStore,
        progress: Callable[[int], None] | None = None,
    ) -> Out_co: ...


class JobKind(Protocol[J_contra, R_contra]):
    """What one job kind says (``J`` its parsed resource, ``R`` what its work returns);
    everything else is the :class:`Lifecycle`'s."""

    kind: constants.ResourceKind
    until_label: str
    """Words before the deletion time in the ``Expired`` Event ("available until")."""
    resumed_message: str | None
    """The ``Resumed`` Event's message for a job found InProgress; None posts none."""
    done_label: str
    """What finished work is called in a Failed reason ("stored", "restored")."""

    def failed(self, reason: str, job: J_contra | None) -> Mapping[str, Any]:
        """The Failed status for ``reason`` (with the job's expiry when ``job`` is known)."""
        ...

    def in_queue(self, job: J_contra) -> Mapping[str, Any]:
        """The InQueue status."""
        ...

    async def claim(self, job: J_contra) -> Claim:
        """The InProgress status; a :class:`~k8ssnap.errors.ConfigError` fails the job instead."""
        ...

    async def run(self, job: J_contra, *, subject: Subject) -> Any:
        """Do the work (``subject`` is the job's resource, for Events); any error fails the job."""
        ...

    def report(self, job: J_contra, result: R_contra) -> Done:
        """The Completed status of finished work (an error here fails the job, never reruns it)."""
        ...

    def deletion_time(self, job: J_contra) -> dt.datetime:
        """When a finished job is deleted (Failed ones get their grace here)."""
        ...


class JobMetrics:
    """``k8ssnap_<plural>_total`` and ``k8ssnap_<noun>_duration_seconds`` by result, and
    ``k8ssnap_<noun>_last_success_timestamp_seconds``: the same families for every kind."""

    def __init__(
        self, registry: Registry, *, noun: str, plural: str, results_help: str, duration_help: str
    ) -> None:
        self.results = registry.counter(f"k8ssnap_{plural}_total", results_help, ["result"])
        self.duration = registry.histogram(
            f"k8ssnap_{noun}_duration_seconds", duration_help, ["result"], buckets=DURATION_BUCKETS
        )
        self.last = registry.gauge(
            f"k8ssnap_{noun}_last_success_timestamp_seconds", "Time of the last success."
        )

    def observe(self, result: str, elapsed: float) -> None:
        self.results.labels(result=result).inc()
        self.duration.labels(result=result).observe(elapsed)
        if result == "completed":
            self.last.set(time.time())


class Lifecycle(Generic[J, R]):
    """Runs the phase machine of one :class:`JobKind`; see the module docstring."""

    def __init__(self, ctx: Context, kind: JobKind[J, R], metrics: JobMetrics) -> None:
        self.ctx = ctx
        self.kind = kind
        self.metrics = metrics
        self._outcomes = outcomes.Outcomes(ctx, kind.kind)

    async def unparsable(self, raw: dict[str, Any], reason: str) -> None:
        """Failed with the parser's reason, unless it already is."""
        if (raw.get("status") or {}).get("phase") != constants.PHASE_FAILED:
            await self._write(raw, self.kind.failed(reason, None), ("Failed", reason), if_unchanged=True)

    async def step(
        self, raw: dict[str, Any], job: J, *, phase: str, available_until: dt.datetime | None
    ) -> Requeue | None:
        """Move ``job`` one step from ``phase``; ``available_until`` is its spec's."""
        if phase == constants.PHASE_NEW:
            await self._accept(raw, job, available_until)
            return None
        if phase in (constants.PHASE_IN_QUEUE, constants.PHASE_IN_PROGRESS):
            await self._run(raw, job, resumed=phase == constants.PHASE_IN_PROGRESS)
            return None
        return await self.ctx.expire(
            self.kind.kind, raw, self.kind.deletion_time(job), what=self.kind.until_label
        )

    async def _accept(self, raw: dict[str, Any], job: J, available_until: dt.datetime | None) -> None:
        if available_until is not None and available_until <= dt.datetime.now(dt.UTC):
            reason = status.REASON_AVAILABLE_UNTIL_PAST
            await self._write(raw, self.kind.failed(reason, None), ("Failed", reason), if_unchanged=True)
            return
        await self._write(
            raw, self.kind.in_queue(job), ("InQueue", "waiting for a worker"), if_unchanged=True
        )

    async def _run(self, raw: dict[str, Any], job: J, *, resumed: bool) -> None:
        if self._outcomes.pending(raw):  # the work is done; only its report is not saved yet
            await self._outcomes.resend(raw)
            return
        started = time.monotonic()
        if resumed and attempts.exhausted(raw):
            reason = attempts.interrupted_reason(attempts.interrupted(raw))
            await self._fail(raw, job, reason, started, if_unchanged=True)
            return
        try:
            claim = await self.kind.claim(job)
        except errors.ConfigError as exc:
            await self._fail(raw, job, exc.reason, started, if_unchanged=True)
            return
        if resumed:
            raw = await attempts.count_next(self.ctx, self.kind.kind, raw)
        await self._write(raw, claim.status, ("InProgress", claim.message), if_unchanged=True)
        if resumed and self.kind.resumed_message is not None:
            await self.ctx.events.record(
                raw, kind=self.kind.kind, reason="Resumed", message=self.kind.resumed_message
            )
        try:
            result: R = await self.kind.run(job, subject=Subject(self.kind.kind, raw))
        except errors.K8sSnapError as exc:
            await self._fail(raw, job, exc.reason, started)
            return
        except Exception as exc:
            log.exception("%s %s failed unexpectedly", self.kind.kind.kind, raw["metadata"]["name"])
            await self._fail(raw, job, f"internal error: {type(exc).__name__}: {exc}", started)
            return
        finally:
            memory.give_back()  # the job's buffers are garbage now; return them
        try:
            done = self.kind.report(job, result)
            elapsed = time.monotonic() - started
            self.metrics.observe("completed", elapsed)
            done.record()
        except Exception as exc:  # bookkeeping must never make finished work run again
            log.exception(
                "%s %s finished, but its outcome cannot be reported",
                self.kind.kind.kind,
                raw["metadata"]["name"],
            )
            reason = (
                f"{self.kind.done_label}, but the outcome cannot be reported: {type(exc).__name__}: {exc}"
            )
            await self._fail(raw, job, reason, started)
            return
        report = outcomes.Report(body=done.status, event=("Completed", f"{done.message} in {elapsed:.1f} s"))
        await self._outcomes.report(raw, report, failed=lambda why: self._failed(job, why))

    async def _fail(
        self, raw: dict[str, Any], job: J, reason: str, started: float, *, if_unchanged: bool = False
    ) -> None:
        """Failed with ``reason``: preconditioned when decided from the cache (``if_unchanged``),
        else the report of claimed work (:mod:`k8ssnap.controllers.outcomes`)."""
        self.metrics.observe("failed", time.monotonic() - started)
        if if_unchanged:
            report = self._failed(job, reason)
            await self._write(raw, report.body, report.event, if_unchanged=True)
        else:
            await self._outcomes.report(
                raw, self._failed(job, reason), failed=lambda why: self._failed(job, why)
            )

    def _failed(self, job: J, reason: str) -> outcomes.Report:
        return outcomes.Report(body=self.kind.failed(reason, job), event=("Failed", reason))

    async def _write(
        self,
        raw: dict[str, Any],
        body: Mapping[str, Any],
        event: tuple[str, str],
        *,
        if_unchanged: bool = False,
    ) -> None:
        await self.ctx.write_status(self.kind.kind, raw, body, event=event, if_unchanged=if_unchanged)
