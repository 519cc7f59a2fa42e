"""Which Restores hold a Snapshot's archive: the table of k8ssnap.domain.readers."""

from __future__ import annotations

import pytest

from k8ssnap.domain.readers import RestoreFacts, readers


def facts(
    name: str, *, active: bool = False, waiting: bool = False, named: str = "", claimed: str = ""
) -> RestoreFacts:
    return RestoreFacts(name=name, active=active, waiting=waiting, named=named, claimed=claimed)


@pytest.mark.parametrize(
    ("restores", "claims", "expected"),
    [
        ([], {}, ()),
        ([facts("r", active=True, named="s")], {}, ("r",)),
        ([facts("r", active=True, claimed="s")], {}, ("r",)),  # a Restore of the latest
        ([facts("r", active=True, named="other", claimed="s")], {}, ("r",)),  # the claim wins
        ([facts("r", active=True, named="s", claimed="other")], {}, ()),
        ([facts("r", waiting=True, named="s")], {}, ("r",)),
        ([facts("r", waiting=True, named="")], {}, ()),  # latest, not chosen yet
        ([facts("r", named="s")], {}, ()),  # Completed or Failed: done reading
        ([], {"r": "s"}, ("r",)),  # claimed here, the cache still shows InQueue
        ([], {"r": "other"}, ()),
        (
            [facts("b", active=True, named="s"), facts("a", waiting=True, named="s")],
            {"c": "s"},
            ("a", "b", "c"),
        ),
    ],
)
def test_table(restores: list[RestoreFacts], claims: dict[str, str], expected: tuple[str, ...]) -> None:
    assert readers("s", restores, claims=claims) == expected
