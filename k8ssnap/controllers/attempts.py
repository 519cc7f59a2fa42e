"""Counting interrupted attempts, so that work which kills the process is not run forever.

A Snapshot or Restore found InProgress was interrupted: the work queue never
hands one key to two workers, so only a controller that stopped (a crash,
an OOM kill, a lost lease, a SIGTERM past the grace period) leaves one
there. Its work is run again -- but if the work itself is what killed the
process (a poison archive, a cluster too large for the memory limit), it
would kill it again, forever.

So the annotation :data:`ANNOTATION` counts the attempts started. A first
claim (from InQueue) writes nothing: an object InProgress without the
annotation has had one attempt. Each resumption first writes the count of
the attempt it is about to start, preconditioned on the cached
resourceVersion like every transition decided from the cache (see
``docs/architecture.md``), and only then claims; the claim is preconditioned
on the version that write returned. Counting before working means a crash at
any point is counted. Once :data:`MAX_INTERRUPTED` attempts were
interrupted the object goes Failed with :func:`interrupted_reason`, and is
not tried again.

An annotation, not a status field, because the status is rewritten whole by
each phase and k8s-snap's status schema has no such field. A person may
remove the annotation (and set the phase back to InQueue) to allow more tries.
"""

from __future__ import annotations

from typing import Any, Final

from k8ssnap.api import constants
from k8ssnap.controllers.context import Context

ANNOTATION: Final = constants.ATTEMPTS
MAX_INTERRUPTED: Final = 3
"""After this many interrupted attempts the work goes Failed instead of running again."""


def interrupted(raw: dict[str, Any]) -> int:
    """How many attempts at the work of ``raw`` (found InProgress) were interrupted.

    At least 1; an annotation that is not a positive whole number reads as 1.
    """
    value = ((raw.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION)
    try:
        count = int(value) if isinstance(value, str) else 1
    except ValueError:
        count = 1
    return max(count, 1)


def exhausted(raw: dict[str, Any]) -> bool:
    """Whether ``raw`` (found InProgress) must go Failed rather than run again."""
    return interrupted(raw) >= MAX_INTERRUPTED


def interrupted_reason(count: int) -> str:
    """The Failed reason of work interrupted ``count`` times."""
    return (
        f"interrupted repeatedly: the controller stopped during each of {count} attempts "
        "(the work itself may be what stops it); not tried again"
    )


async def count_next(ctx: Context, kind: constants.ResourceKind, raw: dict[str, Any]) -> dict[str, Any]:
    """Record that one more attempt starts, preconditioned on ``raw``'s resourceVersion.

    Returns the object as the server now holds it: the claim that follows must
    be preconditioned on its resourceVersion. A stale ``raw`` raises
    :class:`~k8ssnap.errors.Conflict`, retried once the cache caught up.
    """
    meta = raw["metadata"]
    patch = {
        "metadata": {
            "resourceVersion": meta["resourceVersion"],
            "annotations": {ANNOTATION: str(interrupted(raw) + 1)},
        }
    }
    return await ctx.kube.merge_patch(ctx.path(kind, meta["name"]), patch)
