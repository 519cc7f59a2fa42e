"""Which ObjectstoreConfig a Snapshot uses: named, or the only one."""

from __future__ import annotations

import pytest

from k8ssnap.domain.stores import uses_config


@pytest.mark.parametrize(
    ("named", "config", "configs", "uses"),
    [
        ("a", "a", ["a", "b"], True),
        ("a", "b", ["a", "b"], False),
        ("gone", "a", ["a"], False),  # a named config is never replaced by the only one
        (None, "a", ["a"], True),
        ("", "a", ["a"], True),
        (None, "a", ["a", "b"], False),  # several: an unnamed Snapshot uses none
        (None, "a", [], False),
        (None, "b", ["a"], False),
    ],
)
def test_uses_config(named: str | None, config: str, configs: list[str], uses: bool) -> None:
    assert uses_config(named, config=config, configs=configs) is uses
