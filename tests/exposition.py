"""Reading Prometheus' text exposition in tests, whatever the order of labels or the number format."""

from __future__ import annotations

import re

Labels = frozenset[tuple[str, str]]
Vector = dict[Labels, float]

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text: str) -> dict[str, Vector]:
    """Every sample: metric name -> {label set -> value}."""
    series: dict[str, Vector] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, line
        name, labels, value = match.groups()
        series.setdefault(name, {})[frozenset(LABEL.findall(labels or ""))] = float(value)
    return series


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of ``name`` with exactly ``labels``, or None when it is not exposed."""
    return parse(text).get(name, {}).get(frozenset(labels.items()))
