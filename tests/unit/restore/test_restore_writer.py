"""ObjectWriter: create, already-existed, overwrite with conflicts, retries, failures."""

from __future__ import annotations

import pytest

from k8ssnap import errors, retry
from k8ssnap.restore.ledger import Outcome
from k8ssnap.restore.writer import CONFLICT_ATTEMPTS, ObjectWriter
from tests.unit.restore.fakes import FakeApiServer

NOW = retry.Backoff(initial=0.0, max_elapsed=5.0)  # retries without waiting
COLLECTION = "/api/v1/namespaces/n/configmaps"
PATH = f"{COLLECTION}/c"


def body(value: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"v": value}}


def writer(kube: FakeApiServer, *, overwrite: bool = False, backoff: retry.Backoff = NOW) -> ObjectWriter:
    return ObjectWriter(kube=kube, backoff=backoff, overwrite=overwrite)


async def existing(value: str) -> FakeApiServer:
    kube = FakeApiServer()
    await writer(kube).write(collection=COLLECTION, path=PATH, body=body(value))
    kube.requests.clear()
    return kube


async def test_a_new_object_is_created_with_one_request() -> None:
    kube = FakeApiServer()
    assert await writer(kube).write(collection=COLLECTION, path=PATH, body=body("1")) is Outcome.CREATED
    assert kube.objects[PATH]["data"] == {"v": "1"}
    assert kube.requests == [f"POST {COLLECTION}"]


async def test_an_existing_object_is_left_alone_without_overwrite() -> None:
    kube = await existing("live")
    outcome = await writer(kube).write(collection=COLLECTION, path=PATH, body=body("archived"))
    assert outcome is Outcome.ALREADY_EXISTED
    assert kube.objects[PATH]["data"] == {"v": "live"}
    assert kube.requests == [f"POST {COLLECTION}"]


async def test_overwrite_replaces_at_the_live_version() -> None:
    kube = await existing("live")
    outcome = await writer(kube, overwrite=True).write(
        collection=COLLECTION, path=PATH, body=body("archived")
    )
    assert outcome is Outcome.UPDATED
    assert kube.objects[PATH]["data"] == {"v": "archived"}
    assert kube.requests == [f"POST {COLLECTION}", f"GET {PATH}", f"PUT {PATH}"]


async def test_overwrite_rereads_after_a_conflict_and_retries_a_failed_read() -> None:
    kube = await existing("live")
    kube.errors_for[f"PUT {PATH}"] = [errors.Conflict("the object has been modified")]
    kube.errors_for[f"GET {PATH}"] = [errors.ApiRetriable("GET: HTTP 503")]

    outcome = await writer(kube, overwrite=True).write(
        collection=COLLECTION, path=PATH, body=body("archived")
    )

    assert outcome is Outcome.UPDATED
    assert kube.objects[PATH]["data"] == {"v": "archived"}
    assert kube.requests == [f"POST {COLLECTION}"] + [f"GET {PATH}"] * 2 + [
        f"PUT {PATH}",
        f"GET {PATH}",
        f"PUT {PATH}",
    ]


async def test_overwrite_gives_up_after_repeated_conflicts() -> None:
    kube = await existing("live")
    kube.errors_for[f"PUT {PATH}"] = [errors.Conflict("modified")] * CONFLICT_ATTEMPTS
    with pytest.raises(errors.Conflict, match=f"{CONFLICT_ATTEMPTS} replace attempts"):
        await writer(kube, overwrite=True).write(collection=COLLECTION, path=PATH, body=body("x"))
    assert kube.objects[PATH]["data"] == {"v": "live"}


async def test_retriable_errors_are_retried_and_permanent_ones_raised() -> None:
    kube = FakeApiServer()
    kube.errors_for[f"POST {COLLECTION}"] = [errors.ApiRetriable("HTTP 503"), errors.ApiRetriable("HTTP 429")]
    assert await writer(kube).write(collection=COLLECTION, path=PATH, body=body("1")) is Outcome.CREATED
    assert kube.requests == [f"POST {COLLECTION}"] * 3

    kube.errors_for[f"POST {COLLECTION}"] = [errors.Invalid('ConfigMap "c" is invalid')]
    with pytest.raises(errors.Invalid, match="is invalid"):
        await writer(kube).write(collection=COLLECTION, path=PATH, body=body("1"))


async def test_retries_stop_when_the_budget_is_spent() -> None:
    kube = FakeApiServer()
    kube.errors_for[f"POST {COLLECTION}"] = [errors.ApiRetriable("HTTP 503")] * 3
    spent = retry.Backoff(initial=0.0, max_elapsed=-1.0)
    with pytest.raises(errors.ApiRetriable) as caught:
        await writer(kube, backoff=spent).write(collection=COLLECTION, path=PATH, body=body("1"))
    assert caught.value.reason.startswith("gave up after")
    assert PATH not in kube.objects
