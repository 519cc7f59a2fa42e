"""Every per-object exclusion reason, through the public plan API."""

from __future__ import annotations

from typing import Any

import pytest

from k8ssnap.domain.plan import (
    PlanFacts,
    Tiered,
    classify,
    excluded_entry,
    exclusion_reason,
    failed_entry,
)
from k8ssnap.domain.preference import Preference

Obj = dict[str, Any]
RBAC = "/apis/rbac.authorization.k8s.io/v1"


def meta(name: str, namespace: str | None = None, **extra: Any) -> Obj:
    metadata: Obj = {"name": name, **extra}
    if namespace:
        metadata["namespace"] = namespace
    return metadata


def namespace(name: str) -> tuple[str, Obj]:
    return f"/api/v1/namespaces/{name}", {"kind": "Namespace", "metadata": meta(name)}


def service(ns: str, name: str, selector: dict[str, str] | None) -> tuple[str, Obj]:
    spec: Obj = {"ports": [{"port": 80}]}
    if selector is not None:
        spec["selector"] = selector
    return f"/api/v1/namespaces/{ns}/services/{name}", {"metadata": meta(name, ns), "spec": spec}


def endpoints(ns: str, name: str) -> tuple[str, Obj]:
    return f"/api/v1/namespaces/{ns}/endpoints/{name}", {"metadata": meta(name, ns)}


def slice_for(ns: str, name: str, service_name: str, **labels: str) -> tuple[str, Obj]:
    all_labels = {"kubernetes.io/service-name": service_name, **labels}
    return (
        f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/{name}",
        {"metadata": meta(name, ns, labels=all_labels)},
    )


def crb(name: str, role: str, *subjects: Obj, **extra: Any) -> tuple[str, Obj]:
    return (
        f"{RBAC}/clusterrolebindings/{name}",
        {
            "metadata": meta(name, **extra),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": list(subjects),
        },
    )


def rolebinding(ns: str, name: str, kind: str, role: str) -> tuple[str, Obj]:
    return (
        f"{RBAC}/namespaces/{ns}/rolebindings/{name}",
        {"metadata": meta(name, ns), "roleRef": {"kind": kind, "name": role}, "subjects": []},
    )


def cluster_role(name: str, **extra: Any) -> tuple[str, Obj]:
    return f"{RBAC}/clusterroles/{name}", {"metadata": meta(name, **extra), "rules": []}


def sa(ns: str) -> Obj:
    return {"kind": "ServiceAccount", "name": "robot", "namespace": ns}


def pvc(ns: str, name: str, volume: str = "", cls: str = "nfs-client", **extra: Any) -> tuple[str, Obj]:
    spec: Obj = {"storageClassName": cls, "volumeName": volume}
    return (
        f"/api/v1/namespaces/{ns}/persistentvolumeclaims/{name}",
        {"metadata": meta(name, ns, **extra), "spec": spec},
    )


def pv(name: str, with_spec: bool = True) -> tuple[str, Obj]:
    body: Obj = {"metadata": meta(name)}
    if with_spec:
        body["spec"] = {"capacity": {"storage": "1Gi"}, "nfs": {"server": "x", "path": "/"}}
    return f"/api/v1/persistentvolumes/{name}", body


def reasons(objects: list[tuple[str, Obj]], preference: Preference | None = None) -> dict[str, str | None]:
    """Run the two passes and return the reason of every tiered object."""
    preference = preference or Preference.from_spec(
        {"excludeNamespaces": ["kube-system"], "restoreNfsStorageClasses": ["nfs"]}
    )
    facts = PlanFacts(preference=preference)
    classified = [classify(path, obj, preference) for path, obj in objects]
    for item in classified:
        facts.observe(item)
    return {
        item.path: exclusion_reason(item.path, item.obj, facts)
        for item in classified
        if isinstance(item, Tiered)
    }


def reason_of(target: tuple[str, Obj], *others: tuple[str, Obj]) -> str | None:
    return reasons([namespace("foo"), *others, target])[target[0]]


OWNED = {"ownerReferences": [{"kind": "ReplicaSet", "name": "web-1", "uid": "u"}]}


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        (("/api/v1/namespaces/foo/pods/web-1-abc", {"metadata": meta("p", "foo", **OWNED)}), "owner-ref"),
        (
            (
                "/api/v1/namespaces/foo/secrets/default-token-x",
                {"metadata": meta("default-token-x", "foo"), "type": "kubernetes.io/service-account-token"},
            ),
            "token-secret",
        ),
        (
            (
                "/api/v1/namespaces/foo/secrets/t",
                {"metadata": meta("t", "foo", **OWNED), "type": "kubernetes.io/service-account-token"},
            ),
            "owner-ref",  # first match wins
        ),
        (("/api/v1/namespaces/foo/secrets/s", {"metadata": meta("s", "foo"), "type": "Opaque"}), None),
        (("/api/v1/namespaces/foo/pods/standalone", {"metadata": meta("standalone", "foo")}), None),
    ],
)
def test_object_local_reasons(target: tuple[str, Obj], reason: str | None) -> None:
    assert reason_of(target) == reason


AUTO = {"annotations": {"apf.kubernetes.io/autoupdate-spec": "true"}}
BOOTSTRAP = {"labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}}
APIREG = "/apis/apiregistration.k8s.io/v1/apiservices"
FLOW = "/apis/flowcontrol.apiserver.k8s.io/v1"
NET = "/apis/networking.k8s.io/v1"
IP_MANAGER = "ipaddress.kubernetes.io/managed-by"


@pytest.mark.parametrize(
    ("path", "obj", "managed"),
    [
        ("/api/v1/namespaces/foo/configmaps/kube-root-ca.crt", {}, True),
        ("/api/v1/namespaces/foo/configmaps/app-config", {}, False),
        ("/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication", {}, True),
        ("/api/v1/namespaces/default/services/kubernetes", {}, True),
        ("/api/v1/namespaces/default/endpoints/kubernetes", {}, True),
        ("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes", {}, True),
        ("/api/v1/namespaces/foo/services/kubernetes", {}, False),
        (f"{RBAC}/clusterroles/system:node", {"metadata": BOOTSTRAP}, True),
        (f"{RBAC}/clusterrolebindings/system:node", {"metadata": BOOTSTRAP}, True),
        (f"{RBAC}/clusterroles/admin", {"metadata": BOOTSTRAP}, True),
        (f"{RBAC}/namespaces/foo/roles/system:controller:x", {"metadata": BOOTSTRAP}, True),
        (f"{APIREG}/v1.apps", {"spec": {"group": "apps"}}, True),  # local: no service
        (
            f"{APIREG}/v1.example.com",
            {
                "metadata": {"labels": {"kube-aggregator.kubernetes.io/automanaged": "true"}},
                "spec": {"service": None},
            },
            True,
        ),
        (f"{APIREG}/v1beta1.metrics.k8s.io", {"spec": {"service": {"name": "metrics-server"}}}, False),
        (f"{FLOW}/flowschemas/system-leader-election", {"metadata": AUTO}, True),
        (f"{FLOW}/prioritylevelconfigurations/workload-low", {"metadata": AUTO}, True),
        (f"{FLOW}/flowschemas/mine", {}, False),
        ("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/node-1", {}, True),
        ("/apis/coordination.k8s.io/v1/namespaces/foo/leases/my-operator", {}, False),
        (f"{NET}/ipaddresses/10.96.0.10", {"metadata": {"labels": {IP_MANAGER: "ipallocator.k8s.io"}}}, True),
        (f"{NET}/ipaddresses/192.168.7.7", {"metadata": {"labels": {IP_MANAGER: "my-ipam"}}}, False),
        (f"{NET}/ipaddresses/192.168.7.8", {}, False),
        (f"{NET}/servicecidrs/kubernetes", {"spec": {"cidrs": ["10.96.0.0/16"]}}, True),
        (f"{NET}/servicecidrs/extra", {"spec": {"cidrs": ["10.100.0.0/16"]}}, False),
        ("/apis/scheduling.k8s.io/v1/priorityclasses/system-node-critical", {}, True),
        ("/apis/scheduling.k8s.io/v1/priorityclasses/system-cluster-critical", {}, True),
        ("/apis/scheduling.k8s.io/v1/priorityclasses/batch-low", {}, False),
        (
            "/apis/discovery.k8s.io/v1/namespaces/foo/endpointslices/ext-abc",
            {
                "metadata": {
                    "labels": {
                        "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io"
                    }
                }
            },
            True,
        ),
    ],
)
def test_system_managed(path: str, obj: Obj, managed: bool) -> None:
    preference = Preference.default()
    assert reasons([(path, obj)], preference)[path] == ("system-managed" if managed else None)


@pytest.mark.parametrize(
    ("target", "others", "reason"),
    [
        (endpoints("foo", "web"), [service("foo", "web", {"app": "web"})], "service-exists"),
        (endpoints("foo", "ext"), [service("foo", "ext", None)], None),  # selectorless: user data
        (endpoints("foo", "ext"), [service("foo", "ext", {})], None),  # empty selector = none
        (endpoints("foo", "lonely"), [], None),
        (endpoints("foo", "web"), [service("bar", "web", {"app": "web"})], None),  # other namespace
        (slice_for("foo", "web-abc", "web"), [service("foo", "web", {"app": "web"})], "service-exists"),
        (slice_for("foo", "ext-1", "ext"), [service("foo", "ext", None)], None),
        (endpoints("foo", "web"), [service("foo", "web", {"a": "b"})], "service-exists"),
    ],
)
def test_service_exists(target: tuple[str, Obj], others: list[tuple[str, Obj]], reason: str | None) -> None:
    assert reason_of(target, *others) == reason


def test_service_exists_even_when_the_service_is_preference_excluded() -> None:
    preference = Preference.from_spec({"excludeApiPathes": ["/api/v1,services"]})
    objects = [namespace("foo"), service("foo", "web", {"app": "web"}), endpoints("foo", "web")]
    assert reasons(objects, preference)[endpoints("foo", "web")[0]] == "service-exists"


def test_not_binded_to_ns() -> None:
    objects = [
        namespace("foo"),
        namespace("kube-system"),  # preference-excluded
        crb("foo-robot", "robot-role", sa("foo")),
        crb("kube-robot", "kube-role", sa("kube-system")),
        crb("users", "user-role", {"kind": "User", "name": "alice"}),
        crb("ghost", "ghost-role", sa("gone")),  # namespace not in the archive
        crb("owned", "owned-role", sa("foo"), **OWNED),
        rolebinding("foo", "rb", "ClusterRole", "rb-role"),
        rolebinding("kube-system", "rb", "ClusterRole", "kube-rb-role"),
        rolebinding("foo", "rb-role-kind", "Role", "unused-role"),
        cluster_role("robot-role"),
        cluster_role("kube-role"),
        cluster_role("user-role"),
        cluster_role("ghost-role"),
        cluster_role("owned-role"),
        cluster_role("rb-role"),
        cluster_role("kube-rb-role"),
        cluster_role("unused-role"),
        cluster_role(
            "widgets-edit",
            labels={"rbac.authorization.k8s.io/aggregate-to-edit": "true"},
        ),
        cluster_role("widgets-off", labels={"rbac.authorization.k8s.io/aggregate-to-edit": "false"}),
    ]
    result = reasons(objects)
    expected = {
        "clusterrolebindings/foo-robot": None,
        "clusterrolebindings/kube-robot": "not-binded-to-ns",
        "clusterrolebindings/users": "not-binded-to-ns",
        "clusterrolebindings/ghost": "not-binded-to-ns",
        "clusterrolebindings/owned": "owner-ref",
        "clusterroles/robot-role": None,
        "clusterroles/kube-role": "not-binded-to-ns",
        "clusterroles/user-role": "not-binded-to-ns",
        "clusterroles/ghost-role": "not-binded-to-ns",
        "clusterroles/owned-role": "not-binded-to-ns",
        "clusterroles/rb-role": None,
        "clusterroles/kube-rb-role": "not-binded-to-ns",
        "clusterroles/unused-role": "not-binded-to-ns",
        "clusterroles/widgets-edit": None,
        "clusterroles/widgets-off": "not-binded-to-ns",
        "namespaces/foo/rolebindings/rb": None,
    }
    for suffix, reason in expected.items():
        path = f"{RBAC}/{suffix}"
        assert result[path] == reason, path


def test_order_of_observation_does_not_matter() -> None:
    objects = [cluster_role("robot-role"), crb("foo-robot", "robot-role", sa("foo")), namespace("foo")]
    for ordering in (objects, objects[::-1]):
        assert set(reasons(ordering).values()) == {None}


def test_volumes() -> None:
    objects = [
        namespace("foo"),
        namespace("kube-system"),
        ("/api/v1/namespaces/foo/persistentvolumeclaims/nospec", {"metadata": meta("nospec", "foo")}),
        pvc("foo", "gp2", "pv-gp2", cls="gp2"),
        pvc(
            "foo", "beta", "pv-beta", cls="", annotations={"volume.beta.kubernetes.io/storage-class": "nfs-b"}
        ),
        pvc("foo", "unbound"),
        pvc("foo", "missing", "pv-missing"),
        pvc("foo", "hollow", "pv-hollow"),
        pvc("foo", "ok", "pv-ok"),
        pvc("kube-system", "excluded", "pv-excluded"),
        pv("pv-gp2"),
        pv("pv-beta"),
        pv("pv-hollow", with_spec=False),
        pv("pv-ok"),
        pv("pv-orphan"),
        pv("pv-excluded"),
    ]
    result = reasons(objects)
    claims = "/api/v1/namespaces/foo/persistentvolumeclaims"
    volumes = "/api/v1/persistentvolumes"
    assert result[f"{claims}/nospec"] == "no-pvc-spec"
    assert result[f"{claims}/gp2"] == "no-storageclass"
    assert result[f"{claims}/beta"] is None
    assert result[f"{claims}/unbound"] == "not-bounded"
    assert result[f"{claims}/missing"] == "pv-not-found"
    assert result[f"{claims}/hollow"] == "no-pv-spec"
    assert result[f"{claims}/ok"] is None
    assert result[f"{volumes}/pv-gp2"] == "pvc-not-restored"
    assert result[f"{volumes}/pv-beta"] is None
    assert result[f"{volumes}/pv-hollow"] == "no-pv-spec"
    assert result[f"{volumes}/pv-ok"] is None
    assert result[f"{volumes}/pv-orphan"] == "pvc-not-restored"
    assert result[f"{volumes}/pv-excluded"] == "pvc-not-restored"


def test_claims_need_nfs_classes_listed() -> None:
    objects = [namespace("foo"), pvc("foo", "ok", "pv-ok"), pv("pv-ok")]
    result = reasons(objects, Preference.default())
    assert set(result.values()) == {None, "no-storageclass", "pvc-not-restored"}


def test_facts_are_sealed_by_the_first_query() -> None:
    facts = PlanFacts(preference=Preference.default())
    path, obj = namespace("foo")
    facts.observe(classify(path, obj, Preference.default()))
    assert facts.namespace_restored("foo")
    with pytest.raises(RuntimeError, match="sealed"):
        facts.observe(classify(path, obj, Preference.default()))


def test_entries() -> None:
    path = "/api/v1/namespaces/foo/pods/web"
    assert excluded_entry(path, "owner-ref") == f"{path},(owner-ref)"
    assert failed_entry(path, "boom") == f"{path},boom"
    assert failed_entry(path, "line one\nline two") == f"{path},line one line two"
    long = failed_entry(path, "x" * 301)
    assert long == f"{path}," + "x" * 300 + "....."
    assert failed_entry(path, "y" * 300) == f"{path}," + "y" * 300


K8SSNAP = "/apis/clustersnapshot.rywt.io/v1alpha1/namespaces/k8s-snap"


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (f"{K8SSNAP}/snapshots/nightly", "backup-job"),
        (f"{K8SSNAP}/restores/nightly-back", "backup-job"),
        (f"{K8SSNAP}/objectstoreconfigs/local", None),
        (f"{K8SSNAP}/restorepreferences/exclude-kube-system", None),
        ("/apis/example.com/v1/namespaces/k8s-snap/snapshots/other-operator", None),
    ],
)
def test_our_own_work_orders_are_not_restored(path: str, reason: str | None) -> None:
    assert reasons([(path, {})], Preference.default())[path] == reason
