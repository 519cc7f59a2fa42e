"""The JSON shape bounds agree with the real nesting depth, whatever the strings hold."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from k8ssnap import limits
from k8ssnap.archive.bounds import check_json
from k8ssnap.errors import ArchiveError

NASTY = '[]{}"\\,:an'


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def nest(rng: random.Random, levels: int) -> Any:
    """A value exactly ``levels`` deep, with noisy strings and siblings on the way."""
    if levels == 0:
        return "".join(rng.choice(NASTY) for _ in range(rng.randrange(6)))
    inner = nest(rng, levels - 1)
    noise = "".join(rng.choice(NASTY) for _ in range(rng.randrange(8)))
    if rng.random() < 0.5:
        return [noise, inner, {"k": noise}] if rng.random() < 0.5 else [inner]
    return {noise: inner, "s": noise, "l": [noise, 1]}


@pytest.mark.parametrize("seed", range(40))
def test_the_depth_bound_matches_the_parsed_depth(seed: int) -> None:
    rng = random.Random(seed)
    value = nest(
        rng, rng.choice([limits.MAX_JSON_DEPTH - 1, limits.MAX_JSON_DEPTH, limits.MAX_JSON_DEPTH + 1])
    )
    body = orjson.dumps(value)
    assert depth(orjson.loads(body)) == depth(value)
    if depth(value) > limits.MAX_JSON_DEPTH:
        with pytest.raises(ArchiveError, match="levels deep"):
            check_json(body, what="x")
    else:
        check_json(body, what="x")


@pytest.mark.parametrize("char", ["{", "[", ","])
def test_brackets_and_commas_inside_strings_never_refuse_an_object(char: str) -> None:
    # a ConfigMap any namespace user can write (well under etcd's 1.5 MiB): counted on the
    # raw bytes it looked like a quarter of a million containers, and the whole archive
    # holding it could no longer be restored
    value = {"kind": "ConfigMap", "data": {"k": char * (limits.MAX_JSON_COMMAS + 1), "e": '\\"' + char}}
    check_json(orjson.dumps(value), what="x")


def test_real_containers_and_elements_are_still_counted() -> None:
    with pytest.raises(ArchiveError, match="too many JSON objects"):
        check_json(b"[" + b"{}," * limits.MAX_JSON_CONTAINERS + b"{}]", what="x")
    with pytest.raises(ArchiveError, match="too many JSON elements"):
        check_json(b"[" + b'"a",' * (limits.MAX_JSON_COMMAS + 1) + b"1]", what="x")
