"""The whole engine against an in-memory API server and store: order, bounds, reports."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from k8ssnap import errors, retry
from k8ssnap.domain.paths import parse_path
from k8ssnap.domain.preference import Preference
from k8ssnap.domain.tiers import Tier, tier_of
from k8ssnap.restore import RestoreEngine, RestoreJob, RestoreResult
from tests.unit.restore.fakes import FakeApiServer, archive, store

NOW = retry.Backoff(initial=0.0, max_elapsed=5.0)
NS = "/api/v1/namespaces/n"


def meta(name: str, namespace: str | None = "n", **extra: Any) -> dict[str, Any]:
    return {"name": name, **({"namespace": namespace} if namespace else {}), **extra}


def crd() -> tuple[str, dict[str, Any]]:
    return (
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.x.y",
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": meta("widgets.x.y", None),
            "spec": {
                "group": "x.y",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{"name": "v1", "served": True, "storage": True}],
            },
        },
    )


def mixed() -> list[tuple[str, dict[str, Any]]]:
    return [
        (NS, {"kind": "Namespace", "metadata": meta("n", None)}),
        crd(),
        ("/apis/x.y/v1/namespaces/n/widgets/w", {"kind": "Widget", "metadata": meta("w")}),
        ("/apis/q.r/v1/namespaces/n/gadgets/g", {"kind": "Gadget", "metadata": meta("g")}),
        (f"{NS}/configmaps/c", {"kind": "ConfigMap", "metadata": meta("c", uid="u1", resourceVersion="9")}),
        (f"{NS}/configmaps/kube-root-ca.crt", {"kind": "ConfigMap", "metadata": meta("kube-root-ca.crt")}),
        (
            f"{NS}/services/web",
            {"kind": "Service", "metadata": meta("web"), "spec": {"selector": {"a": "b"}}},
        ),
        (f"{NS}/endpoints/web", {"kind": "Endpoints", "metadata": meta("web")}),
        (f"{NS}/endpoints/ext", {"kind": "Endpoints", "metadata": meta("ext")}),
        (
            "/apis/apps/v1/namespaces/n/deployments/d",
            {"kind": "Deployment", "metadata": meta("d"), "status": {"replicas": 1}},
        ),
        (
            "/apis/apps/v1/namespaces/n/replicasets/d-1",
            {"kind": "ReplicaSet", "metadata": meta("d-1", ownerReferences=[{"uid": "x"}])},
        ),
    ]


async def restore(
    objects: list[tuple[str, dict[str, Any]]],
    *,
    kube: FakeApiServer | None = None,
    preference: Preference | None = None,
    concurrency: int = 4,
    **engine: Any,
) -> tuple[RestoreResult, FakeApiServer, list[int]]:
    kube = kube or FakeApiServer()
    job = RestoreJob(
        snapshot_name="s",
        expected_sha256="",
        expected_size=0,
        preference=preference or Preference.default(),
        backoff=NOW,
    )
    ticks: list[int] = []
    result = await RestoreEngine(concurrency=concurrency, **engine).run(
        job,
        kube=kube,
        store=store("s", archive("s", objects)),
        progress=ticks.append,
    )
    return result, kube, ticks


async def test_a_mixed_archive_is_restored_tier_by_tier_with_reasons(tmp_path: Path) -> None:
    result, kube, ticks = await restore(mixed(), spool_dir=tmp_path)

    assert result.created == tuple(
        sorted(
            [
                NS,
                crd()[0],
                "/apis/x.y/v1/namespaces/n/widgets/w",
                f"{NS}/configmaps/c",
                f"{NS}/services/web",
                f"{NS}/endpoints/ext",
                "/apis/apps/v1/namespaces/n/deployments/d",
            ]
        )
    )
    assert result.excluded == (
        f"{NS}/configmaps/kube-root-ca.crt,(system-managed)",
        f"{NS}/endpoints/web,(service-exists)",
        "/apis/apps/v1/namespaces/n/replicasets/d-1,(owner-ref)",
    )
    assert result.failed == ("/apis/q.r/v1/namespaces/n/gadgets/g,the cluster does not serve gadgets.q.r/v1",)
    assert (result.num_snapshot_contents, result.num_preference_excluded) == (11, 0)
    assert ticks == list(range(1, 12))
    assert result.resource_version == str(kube.revision)
    tiers = [tier_of(parse_path(path), Preference.default()) for _, path in kube.writes]
    assert tiers == sorted(tiers)
    assert tiers[0] is Tier.NAMESPACES and tiers[-1] is Tier.APPS
    stored = kube.objects[f"{NS}/configmaps/c"]["metadata"]
    assert "uid" not in stored and stored["resourceVersion"] != "9"
    assert "status" not in kube.objects["/apis/apps/v1/namespaces/n/deployments/d"]
    assert list(tmp_path.iterdir()) == []


async def test_creates_within_a_tier_run_in_parallel_up_to_the_bound() -> None:
    objects = [(NS, {"metadata": meta("n", None)})] + [
        (f"{NS}/configmaps/c{i}", {"metadata": meta(f"c{i}")}) for i in range(40)
    ]
    result, kube, _ = await restore(objects, concurrency=5)
    assert len(result.created) == 41
    assert kube.max_in_flight == 5


async def test_second_run_reports_already_existed_and_overwrite_updates() -> None:
    first, kube, _ = await restore(mixed())
    again, _, _ = await restore(mixed(), kube=kube)
    assert again.created == () and again.already_existed == first.created

    kube.objects[f"{NS}/configmaps/c"]["data"] = {"drifted": "yes"}
    overwrite = Preference.from_spec({"restoreOptions": {"overwriteExisting": True}})
    third, _, _ = await restore(mixed(), kube=kube, preference=overwrite)
    assert third.updated == first.created
    assert "data" not in kube.objects[f"{NS}/configmaps/c"]


async def test_api_errors_fail_one_object_with_a_cut_message() -> None:
    kube = FakeApiServer()
    kube.errors_for[f"POST {NS}/configmaps"] = [errors.Invalid("bad " * 200)]
    kube.errors_for[f"POST {NS}/services"] = [errors.ApiRetriable("HTTP 503")]
    result, _, _ = await restore(mixed(), kube=kube)

    (failed,) = [f for f in result.failed if "/configmaps/" in f]
    assert failed.startswith(f"{NS}/configmaps/c,bad bad")
    assert failed.endswith(".....") and len(failed.split(",", 1)[1]) == 305
    assert f"{NS}/services/web" in result.created


async def test_a_claim_that_does_not_bind_is_reported_failed() -> None:
    objects = [
        (NS, {"metadata": meta("n", None)}),
        (
            "/api/v1/persistentvolumes/pv",
            {
                "metadata": meta("pv", None),
                "spec": {"claimRef": {"namespace": "n", "name": "data", "uid": "old"}},
            },
        ),
        (
            f"{NS}/persistentvolumeclaims/data",
            {"metadata": meta("data"), "spec": {"storageClassName": "nfs-a", "volumeName": "pv"}},
        ),
    ]
    preference = Preference.from_spec({"restoreNfsStorageClasses": ["nfs"]})
    kube = FakeApiServer()
    kube.claims_bind = False

    result, kube, _ = await restore(objects, kube=kube, preference=preference, bind_timeout=0)

    assert result.created == (NS, "/api/v1/persistentvolumes/pv")
    assert result.failed == (f"{NS}/persistentvolumeclaims/data,created but not Bound within 0 s",)
    assert "uid" not in kube.objects["/api/v1/persistentvolumes/pv"]["spec"]["claimRef"]


async def test_a_bad_archive_creates_nothing_and_leaves_no_spool(tmp_path: Path) -> None:
    kube = FakeApiServer()
    truncated = store("s", archive("s", mixed())[:-20])
    job = RestoreJob(
        snapshot_name="s",
        expected_sha256="",
        expected_size=0,
        preference=Preference.default(),
        backoff=NOW,
    )
    with pytest.raises(errors.ArchiveError):
        await RestoreEngine(concurrency=2, spool_dir=tmp_path).run(job, kube=kube, store=truncated)
    assert kube.writes == []
    assert list(tmp_path.iterdir()) == []


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RestoreEngine(concurrency=0)


async def test_a_cancelled_restore_leaves_no_spool(tmp_path: Path) -> None:
    kube = FakeApiServer()
    started, never = asyncio.Event(), asyncio.Event()

    async def hanging(method: str, path: str) -> None:
        if method == "POST" and "/configmaps" in path:
            started.set()
            await never.wait()

    kube.before_write = hanging
    job = RestoreJob(
        snapshot_name="s",
        expected_sha256="",
        expected_size=0,
        preference=Preference.default(),
        backoff=NOW,
    )
    engine = RestoreEngine(concurrency=2, spool_dir=tmp_path)
    task = asyncio.create_task(engine.run(job, kube=kube, store=store("s", archive("s", mixed()))))
    await started.wait()
    assert list(tmp_path.iterdir())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert list(tmp_path.iterdir()) == []


# --- migration: dry run, conversion, mapping (issue 15) ----------------------------


async def _run(objects: list[tuple[str, dict[str, Any]]], kube: FakeApiServer, **job: Any) -> RestoreResult:
    options = {"preference": Preference.default(), **job}
    restore_job = RestoreJob(snapshot_name="s", expected_sha256="", expected_size=0, backoff=NOW, **options)
    snapshots = store("s", archive("s", objects))
    return await RestoreEngine(concurrency=4).run(restore_job, kube=kube, store=snapshots)


def _lists(result: RestoreResult) -> tuple[tuple[str, ...], ...]:
    return (result.created, result.updated, result.already_existed, result.excluded, result.failed)


async def test_a_dry_run_stores_nothing_and_predicts_the_restore() -> None:
    kube = FakeApiServer()

    planned = await _run(mixed(), kube, dry_run=True)

    assert kube.writes == [] and kube.objects == {}
    assert kube.dry_runs  # every create went to the server, as dryRun=All
    assert planned.dry_run
    done = await _run(mixed(), kube)
    assert _lists(planned) == _lists(done)


async def test_a_dry_run_reports_existing_objects_and_server_refusals() -> None:
    kube = FakeApiServer()
    await _run(mixed()[:1], kube)  # the namespace exists
    kube.objects[f"{NS}/configmaps/c"] = {"metadata": {"name": "c", "resourceVersion": "1"}}
    kube.errors_for[f"POST {NS}/services"] = [errors.Invalid("Service is invalid: port already allocated")]
    writes = len(kube.writes)

    planned = await _run(mixed(), kube, dry_run=True)

    assert f"{NS}/configmaps/c" in planned.already_existed
    assert f"{NS}/services/web,Service is invalid: port already allocated" in planned.failed
    assert len(kube.writes) == writes


async def test_an_unserved_version_is_sent_at_the_served_one_and_recorded() -> None:
    kube = FakeApiServer()
    kube.served.append(("x.y", "v1", "widgets", "Widget", True))
    widget = (
        "/apis/x.y/v1beta1/namespaces/n/widgets/w",
        {"apiVersion": "x.y/v1beta1", "kind": "Widget", "metadata": meta("w")},
    )
    result = await _run([mixed()[0], widget], kube)

    assert result.failed == ()
    assert "/apis/x.y/v1/namespaces/n/widgets/w" in result.created
    assert result.converted == ("/apis/x.y/v1/namespaces/n/widgets/w,converted from x.y/v1beta1 to x.y/v1",)
    assert kube.objects["/apis/x.y/v1/namespaces/n/widgets/w"]["apiVersion"] == "x.y/v1"


async def test_a_rejected_conversion_fails_that_object_only() -> None:
    kube = FakeApiServer()
    kube.served.append(("x.y", "v1", "widgets", "Widget", True))
    kube.errors_for["POST /apis/x.y/v1/namespaces/n/widgets"] = [errors.Invalid("spec.size: Invalid value")]
    widget = ("/apis/x.y/v1beta1/namespaces/n/widgets/w", {"kind": "Widget", "metadata": meta("w")})
    result = await _run([mixed()[0], widget, mixed()[4]], kube)

    assert result.failed == ("/apis/x.y/v1/namespaces/n/widgets/w,spec.size: Invalid value",)
    assert f"{NS}/configmaps/c" in result.created


async def test_mapped_objects_are_created_and_reported_in_the_new_namespace() -> None:
    kube = FakeApiServer()
    kube.served.append(("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True))
    preference = Preference.from_spec({"namespaceMapping": {"n": "m"}})
    binding = (
        "/apis/rbac.authorization.k8s.io/v1/namespaces/n/rolebindings/b",
        {
            "kind": "RoleBinding",
            "metadata": meta("b"),
            "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": "n"}],
        },
    )
    result = await _run([mixed()[0], mixed()[4], binding], kube, preference=preference)

    assert result.created == (
        "/api/v1/namespaces/m",
        "/api/v1/namespaces/m/configmaps/c",
        "/apis/rbac.authorization.k8s.io/v1/namespaces/m/rolebindings/b",
    )
    stored = kube.objects["/apis/rbac.authorization.k8s.io/v1/namespaces/m/rolebindings/b"]
    assert stored["subjects"][0]["namespace"] == "m"
    assert stored["metadata"]["namespace"] == "m"
