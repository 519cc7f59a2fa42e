"""``k8ssnap restore --dry-run``: a restore plan as a table.

A dry run's result lists mean what a restore *would* do (see
:class:`~k8ssnap.restore.job.RestoreJob`); this module names them so and
prints one row per object, failures first, so the plan reads top-down from
what needs a person to what is fine:

    OUTCOME        OBJECT                                   DETAIL
    would fail     /api/v1/namespaces/shop/services/web     provided port is already allocated
    excluded       /api/v1/namespaces/shop/pods/web-1       owner-ref
    would create   /api/v1/namespaces/shop-staging          converted from ... (when converted)
"""

from __future__ import annotations

from collections.abc import Iterator

from k8ssnap.app import cli_format as fmt
from k8ssnap.restore.job import RestoreResult

#: Outcome names in a dry run, in the order the table lists them.
WOULD_FAIL = "would fail"
EXCLUDED = "excluded"
WOULD_UPDATE = "would update"
WOULD_CREATE = "would create"
EXISTS = "exists"


def plan_rows(result: RestoreResult) -> Iterator[tuple[str, str, str]]:
    """``(outcome, path, detail)`` per object: failures, exclusions, then the objects placed."""
    notes = dict(_split(entry) for entry in result.converted)
    for entry in result.failed:
        path, message = _split(entry)
        yield WOULD_FAIL, path, message
    for entry in result.excluded:
        path, reason = _split(entry)
        yield EXCLUDED, path, reason.removeprefix("(").removesuffix(")")
    for outcome, paths in (
        (WOULD_UPDATE, result.updated),
        (WOULD_CREATE, result.created),
        (EXISTS, result.already_existed),
    ):
        for path in paths:
            yield outcome, path, notes.get(path, "")


def plan_table(name: str, result: RestoreResult) -> str:
    """The summary line of the plan and its table."""
    summary = (
        f"dry run of {name}: {len(result.created)} would be created, {len(result.updated)} updated, "
        f"{len(result.already_existed)} exist, {len(result.failed)} would fail, "
        f"{len(result.excluded)} excluded, {result.num_preference_excluded} left out by the preference "
        f"(of {result.num_snapshot_contents} objects); nothing was written"
    )
    rows = list(plan_rows(result))
    if not rows:
        return summary + "\n"
    return summary + "\n" + fmt.table(("OUTCOME", "OBJECT", "DETAIL"), rows)


def _split(entry: str) -> tuple[str, str]:
    """``"<path>,<text>"`` into its parts; paths never contain a comma."""
    path, _, text = entry.partition(",")
    return path, text
