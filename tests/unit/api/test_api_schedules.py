"""SnapshotSchedule and Restore.spec.latest: parsing, and agreement of the CRD's pattern with the domain."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from k8ssnap import errors
from k8ssnap.api import resources, schedules
from k8ssnap.domain import cadence

ROOT = Path(__file__).resolve().parents[3]
KUBECONFIG = "apiVersion: v1\nkind: Config\nusers: [{name: u, user: {token: s3cr3t}}]\n"


def schedule_obj(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schedule": "@hourly", "template": {"clusterName": "c1"}, **spec}
    return {"metadata": {"name": "nightly", "namespace": "k8s-snap"}, "spec": body}


def test_parse_a_full_schedule() -> None:
    parsed = schedules.parse_schedule(
        schedule_obj(
            timeZone="Europe/Berlin",
            suspend=True,
            keep=3,
            startingDeadlineSeconds=60,
            template={"clusterName": "c1", "objectstoreConfig": "s", "ttl": "2h", "kubeconfig": KUBECONFIG},
        )
    )
    spec = parsed.spec
    assert (spec.schedule, spec.time_zone, spec.suspend, spec.keep, spec.starting_deadline_seconds) == (
        "@hourly", "Europe/Berlin", True, 3, 60,
    )  # fmt: skip
    assert spec.template.cluster_name == "c1"
    assert spec.template.ttl == "2h"
    assert dict(spec.template_json)["kubeconfig"] == KUBECONFIG
    assert "s3cr3t" not in repr(parsed)


def test_defaults() -> None:
    spec = schedules.parse_schedule(schedule_obj()).spec
    assert (spec.time_zone, spec.suspend, spec.keep, spec.starting_deadline_seconds) == (
        None,
        False,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"schedule": ""}, "spec.schedule is required"),
        ({"template": None}, "spec.template (a Snapshot spec) or spec.etcdTemplate"),
        ({"etcdTemplate": {"endpoints": ["http://e:2379"]}}, "both set; a schedule creates one kind"),
        ({"template": None, "etcdTemplate": {"endpoints": []}}, "spec.etcdTemplate.endpoints must name"),
        (
            {"template": None, "etcdTemplate": {"endpoints": ["http://e:2379"], "clusterName": "c"}},
            "spec.etcdTemplate has fields it does not take: clusterName",
        ),
        (
            {"template": None, "etcdTemplate": {"endpoints": ["http://e:2379"], "availableUntil": "x"}},
            "fields it does not take: availableUntil",
        ),
        ({"template": None, "etcdTemplate": {"endpoints": ["e"], "ttl": "7d"}}, "spec.etcdTemplate.ttl"),
        (
            {"template": {"clusterName": "c", "encryption": {"identitySecret": {"name": "i"}}}},
            "not used here",
        ),
        ({"template": {"clusterName": "c", "bucket": "x"}}, "fields a Snapshot spec does not: bucket"),
        ({"template": {"objectstoreConfig": "s"}}, "spec.template.clusterName is required"),
        ({"template": {"clusterName": "c", "ttl": "7d"}}, "spec.template.ttl"),
        (
            {"template": {"clusterName": "c", "kubeconfig": KUBECONFIG, "kubeconfigSecret": {"name": "k"}}},
            "both set",
        ),
        ({"keep": 0}, "spec.keep must be at least 1"),
        ({"keep": "3"}, "spec.keep must be a whole number"),
        ({"startingDeadlineSeconds": -1}, "must not be negative"),
        ({"suspend": "yes"}, "spec.suspend must be true or false"),
    ],
)
def test_bad_specs_are_refused_with_a_reason(spec: dict[str, Any], words: str) -> None:
    with pytest.raises(errors.ConfigError, match=re.escape(words)) as caught:
        schedules.parse_schedule(schedule_obj(**spec))
    assert "s3cr3t" not in caught.value.reason


def test_a_template_makes_a_schedule_of_snapshots_that_may_encrypt() -> None:
    template = {"clusterName": "c1", "encryption": {"recipientsSecret": {"name": "age"}}}
    spec = schedules.parse_schedule(schedule_obj(template=template)).spec
    assert spec.target.kind == "Snapshot" and spec.etcd_template is None
    assert spec.template is not None and spec.template.encryption.recipients_secret is not None
    assert dict(spec.template_json) == template  # every run's Snapshot is encrypted too


def test_an_etcd_template_makes_a_schedule_of_etcd_snapshots() -> None:
    etcd = {
        "endpoints": ["https://e:2379"],
        "tlsSecret": "t",
        "pki": ".",
        "certificatesOnly": True,
        "ttl": "2h",
    }
    spec = schedules.parse_schedule(schedule_obj(template=None, etcdTemplate=etcd)).spec
    assert spec.target.kind == "EtcdSnapshot" and spec.template is None
    assert spec.etcd_template is not None and spec.etcd_template.endpoints == ("https://e:2379",)
    assert spec.etcd_template.certificates_only is True
    assert dict(spec.template_json) == etcd


def test_status_round_trip() -> None:
    raw = {
        "phase": "Active",
        "lastScheduleTime": "2026-05-01T12:00:00Z",
        "lastSnapshot": "nightly-20260501120000",
        "lastStatus": "Completed",
        "nextScheduleTime": "2026-05-01T13:00:00Z",
        "active": ["nightly-20260501120000"],
        "conditions": [{"type": "Ready", "status": "True"}],
    }
    status = schedules.parse_schedule({**schedule_obj(), "status": raw}).status
    written = schedules.schedule_status_json(status)
    assert {k: v for k, v in written.items() if k in raw} == raw


def _crd_pattern() -> str:
    docs = [d for d in yaml.safe_load_all((ROOT / "artifacts" / "crd.yaml").read_text()) if d]
    crd = next(d for d in docs if d["spec"]["names"]["kind"] == "SnapshotSchedule")
    pattern: str = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]["schedule"]["pattern"]
    return pattern


@pytest.mark.parametrize(
    "expression",
    ["0 * * * *", "@hourly", "@daily", "@every 10s", "@every 1h30m", "*/5 1-3 * * MON-FRI", "0 2 * * 1-5"],
)
def test_crd_pattern_admits_what_the_domain_accepts(expression: str) -> None:
    cadence.parse(expression)
    assert re.search(_crd_pattern(), expression)


@pytest.mark.parametrize("expression", ["@reboot", "* * * *", "0 0 * * * *", "0 0 * * * ; x", "@every"])
def test_crd_pattern_refuses_what_the_domain_refuses(expression: str) -> None:
    with pytest.raises(ValueError):
        cadence.parse(expression)
    assert not re.search(_crd_pattern(), expression)


# --- Restore.spec.latest ------------------------------------------------------------------


def restore_obj(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "r", "namespace": "k8s-snap"}, "spec": {"clusterName": "b", **spec}}


@pytest.mark.parametrize(
    ("latest", "expected"),
    [
        ({"schedule": "nightly"}, resources.LatestSelector(schedule="nightly")),
        ({"clusterName": "a", "maxAge": "2h"}, resources.LatestSelector(cluster_name="a", max_age="2h")),
    ],
)
def test_restore_latest(latest: dict[str, str], expected: resources.LatestSelector) -> None:
    spec = resources.parse_restore(restore_obj(latest=latest)).spec
    assert spec.latest == expected
    assert spec.snapshot_name == ""


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ({"latest": {"schedule": "n"}, "backupName": "x"}, "not both"),
        ({"latest": {"schedule": "n"}, "snapshotName": "x"}, "not both"),
        ({"latest": {}}, "exactly one of schedule and clusterName"),
        ({"latest": {"schedule": "n", "clusterName": "a"}}, "exactly one of schedule and clusterName"),
        ({"latest": {"schedule": "n", "maxAge": "2d"}}, "spec.latest.maxAge"),
        ({"latest": "newest"}, "spec.latest must be an object"),
        ({}, "or spec.latest"),
    ],
)
def test_restore_latest_refused(spec: dict[str, Any], words: str) -> None:
    with pytest.raises(errors.ConfigError, match=re.escape(words)):
        resources.parse_restore(restore_obj(**spec))


def test_restore_status_records_the_chosen_snapshot() -> None:
    status = resources.parse_restore(
        {**restore_obj(backupName="x"), "status": {"snapshotName": "n-1"}}
    ).status
    assert status.snapshot_name == "n-1"


def test_the_template_carries_encryption_to_every_scheduled_snapshot() -> None:
    # without it, the API server pruned template.encryption and scheduled snapshots
    # were stored in plaintext although the schedule asked for age
    template = {"clusterName": "c1", "encryption": {"recipientsSecret": {"name": "age", "key": "r"}}}
    spec = schedules.parse_schedule(schedule_obj(template=template)).spec
    ref = spec.template.encryption.recipients_secret
    assert ref is not None and (ref.name, ref.key) == ("age", "r")
    assert dict(spec.template_json)["encryption"] == template["encryption"]
    docs = [d for d in yaml.safe_load_all((ROOT / "artifacts" / "crd.yaml").read_text()) if d]
    crd = {d["spec"]["names"]["kind"]: d["spec"]["versions"][0]["schema"]["openAPIV3Schema"] for d in docs}
    in_template = crd["SnapshotSchedule"]["properties"]["spec"]["properties"]["template"]["properties"]
    same = crd["Snapshot"]["properties"]["spec"]["properties"]["encryption"]["properties"]
    assert in_template["encryption"]["properties"] == same
    assert set(in_template) == set(schedules.TEMPLATE_FIELDS)


def test_the_template_refuses_an_identity_secret() -> None:
    template = {"clusterName": "c1", "encryption": {"identitySecret": {"name": "age"}}}
    with pytest.raises(errors.ConfigError, match="identitySecret is not used here"):
        schedules.parse_schedule(schedule_obj(template=template))


def test_the_etcd_schedule_sample_is_a_schedule_of_etcd_snapshots() -> None:
    sample = yaml.safe_load((ROOT / "artifacts" / "etcd-schedule.yaml").read_text())
    parsed = schedules.parse_schedule(sample)
    assert parsed.spec.target.kind == "EtcdSnapshot" and parsed.spec.keep == 28
    cadence.parse(parsed.spec.schedule)
