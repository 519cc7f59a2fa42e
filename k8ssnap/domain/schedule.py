"""The rules of a SnapshotSchedule: which run is due, names, retention, "the latest".

Pure functions on an explicit ``now``; the reconciler
(:mod:`k8ssnap.controllers.schedules`) gathers the facts and carries out
the answer.

* **Which run** (:func:`plan`), as CronJob decides it: the due time is the
  most recent scheduled time after the last one handled (or after the
  schedule's creation). Older missed times are dropped, so after downtime
  there is at most one catch-up run, and none if the due time is more than
  ``startingDeadlineSeconds`` late (then it is *missed*). While a snapshot
  of the schedule is still new, InQueue or InProgress the due run is
  *skipped* (CronJob's Forbid). Run, skip and miss all consume the due
  time; a suspended schedule consumes nothing, so on resume the most recent
  time missed while suspended runs once if still within the deadline (as
  CronJob).
* **Names** (:func:`snapshot_name`): ``<schedule>-<UTC yyyymmddhhmmss>`` of
  the scheduled time, so deciding twice creates the same name and the API
  server's AlreadyExists says the run was done.
* **Retention** (:func:`to_prune`): keep the newest ``keep`` Completed
  snapshots made by the schedule; never a Failed or unfinished one, never
  one made by anything else (:func:`made_by`).
* **The latest** (:func:`choose_latest`): the newest Completed snapshot
  matching a Restore's ``latest`` selector, or a reason why there is none.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from k8ssnap.domain import cadence as cadences

#: A scheduled Snapshot's schedule label holds the schedule's name, and a label
#: value is at most 63 characters, so a schedule's name is too.
MAX_SCHEDULE_NAME = 63
_STAMP = "%Y%m%d%H%M%S"
_STAMP_LEN = 14
_UNFINISHED = frozenset({"", "InQueue", "InProgress"})

Action = Literal["run", "skip", "missed", "wait", "suspended"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What to do now. ``at`` is the due time for run/skip/missed; ``next`` the next
    scheduled time after ``now`` (None while suspended); ``dropped`` how many older
    missed times were passed over."""

    action: Action
    at: datetime | None = None
    next: datetime | None = None
    dropped: int = 0


def plan(
    when: cadences.Cadence,
    *,
    zone: zoneinfo.ZoneInfo,
    created: datetime,
    last: datetime | None,
    now: datetime,
    deadline: timedelta | None,
    suspended: bool,
    active: bool,
) -> Plan:
    """Decide the schedule's step at ``now`` (see the module docstring)."""
    if suspended:
        return Plan(action="suspended")
    anchor = last or created
    due, count = cadences.latest_time(when, after=anchor, until=now, anchor=anchor, zone=zone)
    following = cadences.next_time(when, after=now, anchor=due or anchor, zone=zone)
    if due is None:
        return Plan(action="wait", next=following)
    dropped = max(count - 1, 0)
    if deadline is not None and now - due > deadline:
        return Plan(action="missed", at=due, next=following, dropped=dropped)
    return Plan(action="skip" if active else "run", at=due, next=following, dropped=dropped)


def snapshot_name(schedule: str, at: datetime) -> str:
    """``<schedule>-<yyyymmddhhmmss>`` of ``at`` in UTC."""
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: k8ssnap times must be timezone-aware")
    return f"{schedule}-{at.astimezone(UTC).strftime(_STAMP)}"


def scheduled_at(schedule: str, name: str) -> datetime | None:
    """The scheduled time in a name :func:`snapshot_name` made for ``schedule``; else None."""
    stamp = name.removeprefix(f"{schedule}-")
    if stamp == name or len(stamp) != _STAMP_LEN or not stamp.isdigit():
        return None
    try:
        return datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def made_by(schedule: str, *, name: str, label: str | None) -> bool:
    """Whether a Snapshot was made by ``schedule``: its schedule ``label`` and its name both say so."""
    return label == schedule and scheduled_at(schedule, name) is not None


def schedule_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a schedule (its snapshots' label), or None."""
    if len(name) > MAX_SCHEDULE_NAME:
        return (
            f"a SnapshotSchedule's name is at most {MAX_SCHEDULE_NAME} characters"
            f" (it is the schedule label of its snapshots), not {len(name)}"
        )
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name):
        return f"a SnapshotSchedule's name must be a valid label value, not {name!r}"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotFacts:
    """What the rules need of one Snapshot."""

    name: str
    phase: str
    #: When its objects were consistent (status.snapshotTimestamp); None until Completed.
    taken: datetime | None
    created: datetime | None
    cluster_name: str
    #: The schedule that made it (label and name agree), or None.
    schedule: str | None
    deleting: bool = False

    @property
    def unfinished(self) -> bool:
        return self.phase in _UNFINISHED and not self.deleting

    @property
    def usable(self) -> bool:
        """Completed and not on its way out."""
        return self.phase == "Completed" and not self.deleting

    @property
    def moment(self) -> datetime:
        """The time it is ordered by: taken, else created, else the epoch."""
        return self.taken or self.created or datetime.fromtimestamp(0, UTC)


def active(snapshots: Iterable[SnapshotFacts], *, schedule: str) -> tuple[str, ...]:
    """Names of the schedule's snapshots that are not finished yet, oldest first."""
    mine = [s for s in snapshots if s.schedule == schedule and s.unfinished]
    return tuple(s.name for s in sorted(mine, key=_order))


def to_prune(snapshots: Iterable[SnapshotFacts], *, schedule: str, keep: int | None) -> tuple[str, ...]:
    """The schedule's Completed snapshots beyond the newest ``keep``, oldest first
    (nothing when ``keep`` is None)."""
    if keep is None:
        return ()
    done = sorted((s for s in snapshots if s.schedule == schedule and s.usable), key=_order)
    return tuple(s.name for s in done[: max(len(done) - keep, 0)])


def last_success(snapshots: Iterable[SnapshotFacts], *, schedule: str) -> SnapshotFacts | None:
    """The schedule's newest Completed snapshot."""
    done = [s for s in snapshots if s.schedule == schedule and s.usable]
    return max(done, key=_order, default=None)


class NoSnapshot(ValueError):
    """No snapshot fits a Restore's ``latest`` selector; the message says why."""


def choose_latest(
    snapshots: Iterable[SnapshotFacts],
    *,
    schedule: str | None,
    cluster_name: str | None,
    now: datetime,
    max_age: timedelta | None,
) -> SnapshotFacts:
    """The newest Completed snapshot made by ``schedule`` or of ``cluster_name``.

    Raises :class:`NoSnapshot` when none matches, or when the newest is older
    than ``max_age`` (its age measured from when it was taken).
    """
    if schedule is not None:
        what = f"of schedule {schedule!r}"
        matching = [s for s in snapshots if s.schedule == schedule and s.usable]
    elif cluster_name is not None:
        what = f"of cluster {cluster_name!r}"
        matching = [s for s in snapshots if s.cluster_name == cluster_name and s.usable]
    else:
        raise NoSnapshot("spec.latest names neither a schedule nor a clusterName")
    newest = max(matching, key=_order, default=None)
    if newest is None:
        raise NoSnapshot(f"no Completed snapshot {what} to restore")
    age = now - newest.moment
    if max_age is not None and age > max_age:
        raise NoSnapshot(
            f"the newest Completed snapshot {what}, {newest.name}, is {_words(age)} old,"
            f" older than maxAge {_words(max_age)}"
        )
    return newest


def _order(facts: SnapshotFacts) -> tuple[datetime, str]:
    return facts.moment, facts.name


def _words(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{secs}s" if secs else ""]
    return "".join(parts) or "0s"
