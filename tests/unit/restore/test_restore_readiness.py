"""Readiness polling: answers, deadlines and the bound on parallel probes (no real sleeps)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from k8ssnap.restore import readiness


async def test_poll_collects_answers_as_they_come() -> None:
    asked: dict[str, int] = {}

    async def probe(key: str) -> str | None:
        asked[key] = asked.get(key, 0) + 1
        return f"{key}!" if asked[key] >= int(key) else None

    answers = await readiness.poll(["1", "3", "2"], probe, timeout=60, concurrency=2, interval=0)

    assert answers == {"1": "1!", "2": "2!", "3": "3!"}
    assert asked == {"1": 1, "2": 2, "3": 3}


async def test_poll_gives_up_at_the_deadline() -> None:
    rounds = 0

    async def never(key: str) -> bool | None:
        nonlocal rounds
        rounds += 1
        return None

    assert await readiness.poll(["a"], never, timeout=0, concurrency=1, interval=0) == {}
    assert rounds == 1


async def test_poll_bounds_parallel_probes() -> None:
    running = peak = 0

    async def probe(key: str) -> bool:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        running -= 1
        return True

    answers = await readiness.poll([str(i) for i in range(20)], probe, timeout=1, concurrency=3)

    assert len(answers) == 20
    assert peak == 3


def crd(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "spec": {
            "group": "x.y",
            "names": {"plural": "widgets"},
            "versions": [{"name": "v1", "served": True}, {"name": "v2", "served": False}],
        },
        "status": {"conditions": conditions},
    }


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([{"type": "Established", "status": "True"}], frozenset({("x.y", "v1", "widgets")})),
        ([{"type": "Established", "status": "False"}], None),
        ([{"type": "NamesAccepted", "status": "True"}], None),
        ([], None),
    ],
)
def test_a_crd_serves_its_served_versions_once_established(
    conditions: list[dict[str, Any]], expected: frozenset[tuple[str, str, str]] | None
) -> None:
    assert readiness._established_resources(crd(conditions)) == expected
