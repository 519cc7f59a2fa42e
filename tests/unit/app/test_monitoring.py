"""artifacts/monitoring/: the schedule alerts, evaluated against the controller's exposition text.

promtool is not part of the test environment (building Prometheus from source is not
trivial here), so the alert expression is evaluated by a tiny PromQL interpreter below
that knows exactly the subset the rule uses -- ``time()``, selectors, numbers,
``* + -``, comparison filters and ``unless`` with ``on(...)`` matching -- on the
samples of a real :class:`ScheduleReconciler` registry as ``/metrics`` renders them.
An expression using anything else fails to parse, so the test has to grow with the rule.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8ssnap.api import constants
from k8ssnap.controllers.schedules import ScheduleReconciler
from k8ssnap.runtime.source import ObjectKey
from tests import exposition as exposition_text
from tests.unit.controllers.fakes import NS, World, snapshot, ts, world

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "artifacts" / "monitoring" / "prometheusrule.yaml"
HOUR = 3600.0

Labels = exposition_text.Labels
Vector = exposition_text.Vector


def _rules() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return {rule["alert"]: rule for group in doc["spec"]["groups"] for rule in group["rules"]}


# --- the exposition text and a PromQL subset ------------------------------------------------

parse_exposition = exposition_text.parse
_LABEL = exposition_text.LABEL


_TOKEN = re.compile(r"\s*(\d+(?:\.\d+)?|[a-zA-Z_:][a-zA-Z0-9_:]*|\{[^}]*\}|==|[()*+\->,])")


class PromQL:
    """Evaluates the rule's subset; see the module docstring."""

    def __init__(self, expr: str, *, series: dict[str, Vector], now: float) -> None:
        self.tokens = [t for t in _TOKEN.findall(expr)]
        assert "".join(self.tokens) == re.sub(r"\s+", "", expr), f"unsupported syntax in {expr!r}"
        self.series = series
        self.now = now
        self.pos = 0

    def run(self) -> Vector | float:
        value = self._unless()
        assert self.pos == len(self.tokens), self.tokens[self.pos :]
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self.tokens[self.pos]
        assert expected is None or token == expected, (expected, token)
        self.pos += 1
        return token

    def _on(self) -> tuple[str, ...] | None:
        if self._peek() != "on":
            return None
        self._take("on")
        self._take("(")
        names = [self._take()]
        while self._peek() == ",":
            self._take(",")
            names.append(self._take())
        self._take(")")
        return tuple(names)

    def _unless(self) -> Vector | float:
        left = self._compare()
        while self._peek() == "unless":
            self._take()
            on = self._on()
            right = self._compare()
            assert isinstance(left, dict) and isinstance(right, dict)
            keys = {_key(labels, on) for labels in right}
            left = {labels: v for labels, v in left.items() if _key(labels, on) not in keys}
        return left

    def _compare(self) -> Vector | float:
        left = self._add()
        if self._peek() in (">", "=="):
            op = self._take()
            on = self._on()
            right = self._add()
            test = (lambda a, b: a > b) if op == ">" else (lambda a, b: a == b)
            return _binary(left, right, on, test, filter_=True)
        return left

    def _add(self) -> Vector | float:
        value = self._mul()
        while self._peek() in ("+", "-"):
            op = self._take()
            right = self._mul()
            value = _binary(value, right, None, (lambda a, b: a + b) if op == "+" else (lambda a, b: a - b))
        return value

    def _mul(self) -> Vector | float:
        value = self._atom()
        while self._peek() == "*":
            self._take()
            value = _binary(value, self._atom(), None, lambda a, b: a * b)
        return value

    def _atom(self) -> Vector | float:
        token = self._take()
        if token == "(":
            value = self._unless()
            self._take(")")
            return value
        if re.fullmatch(r"\d+(\.\d+)?", token):
            return float(token)
        if token == "time":
            self._take("(")
            self._take(")")
            return self.now
        matchers: set[tuple[str, str]] = set()
        if (self._peek() or "").startswith("{"):
            matchers = set(_LABEL.findall(self._take()))
        return {labels: v for labels, v in self.series.get(token, {}).items() if matchers <= labels}


def _key(labels: Labels, on: tuple[str, ...] | None) -> Labels:
    return labels if on is None else frozenset((k, v) for k, v in labels if k in on)


def _binary(left: Any, right: Any, on: tuple[str, ...] | None, op: Any, *, filter_: bool = False) -> Any:
    if not isinstance(left, dict) and not isinstance(right, dict):
        return float(op(left, right))
    if not isinstance(right, dict):
        pairs = {labels: (v, right) for labels, v in left.items()}
    elif not isinstance(left, dict):
        pairs = {labels: (left, v) for labels, v in right.items()}
    else:
        by_key = {_key(labels, on): v for labels, v in right.items()}
        pairs = {
            labels: (v, by_key[_key(labels, on)]) for labels, v in left.items() if _key(labels, on) in by_key
        }
    if filter_:
        return {labels: a for labels, (a, b) in pairs.items() if op(a, b)}
    return {labels: float(op(a, b)) for labels, (a, b) in pairs.items()}


# --- the scenarios ------------------------------------------------------------------------------

NOW = dt.datetime(2026, 5, 2, 12, 0, 0, tzinfo=dt.UTC)


def schedule_raw(name: str, *, every: str, created: dt.datetime, suspend: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": constants.API_VERSION,
        "kind": constants.SNAPSHOT_SCHEDULE.kind,
        "metadata": {
            "name": name, "namespace": NS, "uid": f"uid-{name}", "resourceVersion": "7",
            "generation": 1, "creationTimestamp": ts(created),
        },
        "spec": {"schedule": every, "suspend": suspend, "template": {"clusterName": "c1"}},
        "status": {"lastScheduleTime": ts(NOW - dt.timedelta(minutes=1))},
    }  # fmt: skip


def completed(schedule: str, *, ago: dt.timedelta) -> dict[str, Any]:
    taken = NOW - ago
    raw = snapshot(
        f"{schedule}-{taken.strftime('%Y%m%d%H%M%S')}", phase="Completed",
        status={"snapshotTimestamp": ts(taken)}, created=taken,
    )  # fmt: skip
    raw["metadata"]["labels"] = {constants.SCHEDULE_LABEL: schedule}
    return raw


async def exposition(*schedules: dict[str, Any], snapshots: list[dict[str, Any]]) -> str:
    w: World = world()
    for raw in snapshots:
        w.put(constants.SNAPSHOT, raw)
    reconciler = ScheduleReconciler(w.ctx, now=lambda: NOW)
    for raw in schedules:
        w.put(constants.SNAPSHOT_SCHEDULE, raw)
        await reconciler.reconcile(ObjectKey(NS, raw["metadata"]["name"]))
    return w.ctx.metrics.render()


async def test_backups_stopped_fires_for_exactly_the_schedules_without_a_recent_success() -> None:
    day_ago = NOW - dt.timedelta(days=1)
    text = await exposition(
        schedule_raw("fresh", every="@hourly", created=day_ago),
        schedule_raw("stale", every="@hourly", created=day_ago),
        schedule_raw("never", every="@hourly", created=day_ago),
        schedule_raw("new", every="@hourly", created=NOW - dt.timedelta(minutes=30)),
        schedule_raw("paused", every="@hourly", created=day_ago, suspend=True),
        schedule_raw("daily", every="@daily", created=day_ago - dt.timedelta(days=5)),
        snapshots=[
            completed("fresh", ago=dt.timedelta(minutes=50)),
            completed("stale", ago=dt.timedelta(hours=3)),
            completed("paused", ago=dt.timedelta(hours=20)),
            completed("daily", ago=dt.timedelta(hours=30)),
        ],
    )
    expr = _rules()["K8ssnapScheduledBackupsStopped"]["expr"]
    fired = PromQL(expr, series=parse_exposition(text), now=NOW.timestamp()).run()
    assert isinstance(fired, dict)
    assert sorted(dict(labels)["schedule"] for labels in fired) == ["never", "stale"]
    stale = next(v for labels, v in fired.items() if dict(labels)["schedule"] == "stale")
    assert stale == pytest.approx(3 * HOUR)


async def test_every_metric_the_rules_name_is_exposed_with_a_schedule_label() -> None:
    text = await exposition(
        schedule_raw("s", every="@hourly", created=NOW - dt.timedelta(days=1)),
        snapshots=[completed("s", ago=dt.timedelta(minutes=5))],
    )
    series = parse_exposition(text)
    for rule in _rules().values():
        for name in set(re.findall(r"k8ssnap_\w+", rule["expr"])):
            assert name in series or name == "k8ssnap_schedule_runs_total", name
    assert series["k8ssnap_schedule_period_seconds"] == {frozenset({("schedule", "s")}): HOUR}


async def test_a_failed_run_is_counted_under_the_failed_result() -> None:
    w: World = world()
    reconciler = ScheduleReconciler(w.ctx, now=lambda: NOW)
    w.put(constants.SNAPSHOT_SCHEDULE, schedule_raw("s", every="@hourly", created=NOW - dt.timedelta(days=1)))
    running = completed("s", ago=dt.timedelta(minutes=1))
    running["status"]["phase"] = "InProgress"
    w.put(constants.SNAPSHOT, running)
    await reconciler.reconcile(ObjectKey(NS, "s"))
    running["status"]["phase"] = "Failed"
    w.put(constants.SNAPSHOT, running)
    await reconciler.reconcile(ObjectKey(NS, "s"))
    failed = parse_exposition(w.ctx.metrics.render())["k8ssnap_schedule_runs_total"]
    assert failed[frozenset({("schedule", "s"), ("result", "failed")})] == 1


def test_the_interpreter_refuses_what_it_does_not_know() -> None:
    with pytest.raises(AssertionError):
        PromQL("rate(x[5m]) > 0", series={}, now=0).run()
