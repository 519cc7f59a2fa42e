"""Leader election on a ``coordination.k8s.io/v1`` Lease (client-go ``leaderelection.go``).

Several replicas run :meth:`LeaderElector.run`; at most one at a time should
believe it leads. The algorithm is client-go's:

* **Acquire**: every ``retry_period`` (jittered by up to 1.2x) the candidate
  reads the Lease. It takes it -- creating it, or replacing it with its own
  identity -- if there is none, if the holder is empty, or if the lease has
  expired. *Expired* is judged by the local monotonic clock: the candidate
  remembers when it last saw the lease's record *change* (client-go's
  ``observedTime``) and waits ``leaseDurationSeconds`` from then. Remote
  ``renewTime`` stamps are written for humans and never compared, so clock
  skew between nodes does not matter.
* **Renew**: the leader renews every ``retry_period`` (the first time one
  period after acquiring; client-go renews at once, which only costs a
  write). A renewal is retried
  every ``retry_period`` until ``renew_deadline`` has passed since it began;
  if none succeeded by then, leadership is lost. Because ``renew_deadline``
  is shorter than ``lease_duration``, a leader that cannot renew gives up
  before anyone else may take over.
* Writes are optimistic: ``replace`` carries the resourceVersion that was
  read, and :class:`~k8ssnap.errors.Conflict` (someone else wrote first)
  simply makes the attempt fail.
* **Release**: on a clean exit (cancellation, or the leading task ending)
  the leader writes an empty ``holderIdentity`` with
  ``leaseDurationSeconds: 1`` so a successor need not wait out the lease.

``acquireTime``/``renewTime`` are MicroTime strings (RFC 3339, microseconds,
UTC: ``2026-11-21T01:02:03.123456Z``) from the injected wall clock.

One difference from client-go: ``on_stopped_leading`` is only called if
this candidate did lead, not also when it gave up before ever leading.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from k8ssnap import errors
from k8ssnap.runtime.clock import Clock, RealClock, wait_for

log = logging.getLogger(__name__)

#: client-go's ``JitterFactor`` for the acquire loop.
JITTER_FACTOR = 1.2


class LeaseClient(Protocol):
    """Get, create and replace one namespace's Leases (raw JSON)."""

    async def get(self, name: str) -> dict[str, Any] | None:
        """The Lease, or ``None`` if it does not exist."""
        ...

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create the Lease; :class:`~k8ssnap.errors.AlreadyExists` if it exists."""
        ...

    async def replace(self, body: dict[str, Any]) -> dict[str, Any]:
        """Replace it; :class:`~k8ssnap.errors.Conflict` if the resourceVersion is stale."""
        ...


@dataclass(frozen=True, slots=True)
class LeaderElectionConfig:
    """Which Lease, who we are, and client-go's timing (15 s / 10 s / 2 s)."""

    lease_name: str
    namespace: str
    identity: str
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        if not self.identity:
            raise ValueError("leader election needs a non-empty identity")
        if self.retry_period <= 0:
            raise ValueError("retry_period must be positive")
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ValueError("renew_deadline must be greater than 1.2 * retry_period")


@dataclass(frozen=True, slots=True)
class LeaderElectionRecord:
    """The part of a Lease's spec that leader election reads and writes."""

    holder_identity: str
    lease_duration_seconds: int
    acquire_time: str
    renew_time: str
    leader_transitions: int

    @classmethod
    def from_lease(cls, lease: dict[str, Any]) -> LeaderElectionRecord:
        spec = lease.get("spec") or {}
        return cls(
            holder_identity=str(spec.get("holderIdentity") or ""),
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=str(spec.get("acquireTime") or ""),
            renew_time=str(spec.get("renewTime") or ""),
            leader_transitions=int(spec.get("leaseTransitions") or 0),
        )

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "leaseTransitions": self.leader_transitions,
        }
        if self.acquire_time:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time:
            spec["renewTime"] = self.renew_time
        return spec


def format_micro_time(moment: datetime.datetime) -> str:
    """A Kubernetes MicroTime: ``2026-11-21T01:02:03.123456Z`` (naive means UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _await(aw: Awaitable[None]) -> None:
    await aw


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class LeaderElector:
    """Campaign for, hold and release one Lease; see the module docstring."""

    def __init__(
        self,
        *,
        config: LeaderElectionConfig,
        client: LeaseClient,
        clock: Clock | None = None,
        wall: Callable[[], datetime.datetime] = _utcnow,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self._client = client
        self._clock: Clock = clock if clock is not None else RealClock()
        self._wall = wall
        self._rand = rand
        self._lease: dict[str, Any] | None = None
        self._observed: LeaderElectionRecord | None = None
        self._observed_time = 0.0

    @property
    def is_leader(self) -> bool:
        """Whether the last record we observed or wrote names us as holder."""
        return self._observed is not None and self._observed.holder_identity == self.config.identity

    @property
    def observed_record(self) -> LeaderElectionRecord | None:
        return self._observed

    async def run(
        self,
        on_started_leading: Callable[[], Awaitable[None]],
        on_stopped_leading: Callable[[], Awaitable[None]],
    ) -> None:
        """Acquire, lead, and keep renewing until leadership ends.

        ``on_started_leading()`` runs as a task once the lease is ours and is
        cancelled when leadership ends. ``run`` returns when the lease is
        lost (after ``on_stopped_leading()``) or when the leading task ends
        by itself (after releasing the lease; its exception, if any, is
        re-raised). Cancelling ``run`` cancels the leading task, releases
        the lease and calls ``on_stopped_leading()``.
        """
        await self._acquire()
        loop = asyncio.get_running_loop()
        leading = loop.create_task(_await(on_started_leading()), name="leader-leading")
        renewing = loop.create_task(self._renew_until_lost(), name="leader-renewing")
        lost = False
        try:
            await asyncio.wait({leading, renewing}, return_when=asyncio.FIRST_COMPLETED)
            lost = renewing.done() and not leading.done()
        finally:
            renewing.cancel()
            leading.cancel()
            await asyncio.gather(renewing, leading, return_exceptions=True)
            if not lost and self.config.release_on_cancel:
                await self._release()
            await on_stopped_leading()
        if lost:
            log.warning("leader election: lost lease %s", self.config.lease_name)
        elif not leading.cancelled() and (error := leading.exception()) is not None:
            raise error

    # -- phases ------------------------------------------------------------------

    async def _acquire(self) -> None:
        cfg = self.config
        while not await self._attempt(timeout=cfg.renew_deadline):
            await self._clock.sleep(cfg.retry_period * (1.0 + JITTER_FACTOR * self._rand()))
        log.info("leader election: %s acquired lease %s", cfg.identity, cfg.lease_name)

    async def _renew_until_lost(self) -> None:
        """Renew every retry period; return once a renewal missed its deadline."""
        cfg = self.config
        while True:
            await self._clock.sleep(cfg.retry_period)
            deadline = self._clock.now() + cfg.renew_deadline
            while True:
                remaining = deadline - self._clock.now()
                if remaining <= 0:
                    return
                if await self._attempt(timeout=remaining):
                    break
                await self._clock.sleep(min(cfg.retry_period, deadline - self._clock.now()))

    async def _attempt(self, *, timeout: float) -> bool:
        try:
            return await wait_for(self._clock, self._try_acquire_or_renew(), timeout=timeout)
        except errors.K8sSnapError as err:
            log.info("leader election: attempt failed: %s: %s", type(err).__name__, err.reason)
        except TimeoutError:
            log.info("leader election: attempt timed out after %gs", timeout)
        except Exception:
            log.exception("leader election: attempt failed unexpectedly")
        return False

    async def _try_acquire_or_renew(self) -> bool:
        now = format_micro_time(self._wall())
        desired = LeaderElectionRecord(
            holder_identity=self.config.identity,
            lease_duration_seconds=int(self.config.lease_duration),
            acquire_time=now,
            renew_time=now,
            leader_transitions=0,
        )
        lease = await self._client.get(self.config.lease_name)
        if lease is None:
            self._lease = await self._client.create(self._body(desired, base=None))
            self._observe(desired)
            return True
        self._lease = lease
        current = LeaderElectionRecord.from_lease(lease)
        if current != self._observed:
            self._observe(current)
        if current.holder_identity and self._lease_valid() and not self.is_leader:
            return False
        if self.is_leader:
            desired = replace(
                desired,
                acquire_time=current.acquire_time,
                leader_transitions=current.leader_transitions,
            )
        else:
            desired = replace(desired, leader_transitions=current.leader_transitions + 1)
        self._lease = await self._client.replace(self._body(desired, base=lease))
        self._observe(desired)
        return True

    async def _release(self) -> None:
        if not self.is_leader or self._lease is None or self._observed is None:
            return
        now = format_micro_time(self._wall())
        released = LeaderElectionRecord(
            holder_identity="",
            lease_duration_seconds=1,
            acquire_time=now,
            renew_time=now,
            leader_transitions=self._observed.leader_transitions,
        )
        body = self._body(released, base=self._lease)
        try:
            aw = self._client.replace(body)
            self._lease = await wait_for(self._clock, aw, timeout=self.config.renew_deadline)
        except (errors.K8sSnapError, TimeoutError) as err:
            log.warning("leader election: could not release lease: %s", err)
            return
        self._observe(released)
        log.info("leader election: released lease %s", self.config.lease_name)

    # -- state -------------------------------------------------------------------

    def _observe(self, record: LeaderElectionRecord) -> None:
        self._observed = record
        self._observed_time = self._clock.now()

    def _lease_valid(self) -> bool:
        if self._observed is None:
            return False
        expiry = self._observed_time + self._observed.lease_duration_seconds
        return expiry > self._clock.now()

    def _body(self, record: LeaderElectionRecord, *, base: dict[str, Any] | None) -> dict[str, Any]:
        if base is None:
            body: dict[str, Any] = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.config.lease_name, "namespace": self.config.namespace},
            }
        else:
            body = copy.deepcopy(base)
        body["spec"] = record.to_spec()
        return body

    def __repr__(self) -> str:
        holder = self._observed.holder_identity if self._observed else None
        return f"<LeaderElector {self.config.identity} lease={self.config.lease_name} holder={holder}>"
