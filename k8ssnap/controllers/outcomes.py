"""Reporting the outcome of claimed work, so that finished work is never redone.

The write that reports a finished snapshot or restore is unconditional (see
``docs/architecture.md``), but it can still fail: one 503 on the final
Completed write used to leave the object InProgress, and the next pass ran
the whole restore again. So:

* the write is retried :data:`WRITE_ATTEMPTS` times, with exponential backoff
  (:data:`FIRST_DELAY` doubling) on the context's clock, on retriable errors;
* while it has not succeeded, the report is kept in memory by the object's
  uid, and the reconciler's next pass writes it instead of running the work
  again (:meth:`Outcomes.resend`); the error is raised so that the work queue
  retries the key with its rate limiting;
* a write the server refuses for good (the body is invalid, too large) is
  replaced by the Failed report the reconciler gives, with the refusal as
  its reason: a report that can never be saved must not be retried forever,
  nor the work redone;
* an object deleted meanwhile needs no report.

The memory lasts as long as the process: after a restart the object is found
InProgress and :mod:`k8ssnap.controllers.attempts` bounds the re-runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from k8ssnap import errors
from k8ssnap.api import constants
from k8ssnap.controllers.context import Context

log = logging.getLogger(__name__)

WRITE_ATTEMPTS: Final = 5
FIRST_DELAY: Final = 0.5
"""Seconds before the second attempt; doubled before each next one (0.5, 1, 2, 4)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """A status body to write and the Event ``(reason, message)`` that goes with it."""

    body: Any
    event: tuple[str, str]


FailedReport = Callable[[str], Report]
"""Makes the Failed report whose reason is the given text."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Pending:
    report: Report
    failed: FailedReport


class Outcomes:
    """The outcome reports of one kind that have not been saved yet, by uid."""

    def __init__(self, ctx: Context, kind: constants.ResourceKind) -> None:
        self._ctx = ctx
        self._kind = kind
        self._pending: dict[str, _Pending] = {}

    def pending(self, raw: dict[str, Any]) -> bool:
        """Whether ``raw``'s work finished and only its report remains to be saved."""
        return _uid(raw) in self._pending

    async def report(self, raw: dict[str, Any], report: Report, *, failed: FailedReport) -> None:
        """Save ``report`` as ``raw``'s status; see the module docstring."""
        self._pending[_uid(raw)] = _Pending(report=report, failed=failed)
        await self.resend(raw)

    async def resend(self, raw: dict[str, Any]) -> None:
        """Save the pending report of ``raw``; no-op when there is none."""
        pending = self._pending.get(_uid(raw))
        if pending is None:
            return
        try:
            await self._write(raw, pending.report)
        except errors.NotFound:
            pass  # deleted meanwhile: nobody to report to
        except errors.RetriableError:
            raise  # kept: the next pass writes it again
        except errors.PermanentError as exc:
            log.warning("the outcome of %s cannot be saved: %s", raw["metadata"]["name"], exc.reason)
            await self._write(raw, pending.failed(f"the outcome could not be saved: {exc.reason}"))
        self._pending.pop(_uid(raw), None)

    async def _write(self, raw: dict[str, Any], report: Report) -> None:
        delay = FIRST_DELAY
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                await self._ctx.write_status(self._kind, raw, report.body, event=report.event)
                return
            except errors.RetriableError as exc:
                if attempt == WRITE_ATTEMPTS:
                    raise
                log.warning(
                    "writing the outcome of %s failed (attempt %d), retrying in %.1f s: %s",
                    raw["metadata"]["name"], attempt, delay, exc.reason,
                )  # fmt: skip
                await self._ctx.clock.sleep(delay)
                delay *= 2


def _uid(raw: dict[str, Any]) -> str:
    meta = raw["metadata"]
    return str(meta.get("uid") or meta["name"])
