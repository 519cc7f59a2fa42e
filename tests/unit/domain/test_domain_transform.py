"""transform(): the body a restore creates, and that the input is never mutated."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from k8ssnap.domain.plan import transform

Obj = dict[str, Any]
SERVICE = "/api/v1/namespaces/foo/services/web"
SERVER_META = {
    "uid": "0b7e",
    "resourceVersion": "42",
    "creationTimestamp": "2019-05-20T03:45:08Z",
    "generation": 3,
    "managedFields": [{"manager": "kubectl"}],
    "selfLink": "/api/v1/namespaces/foo/configmaps/c",
    "deletionTimestamp": "2019-05-21T03:45:08Z",
    "deletionGracePeriodSeconds": 30,
}


def svc(spec: Obj, *, annotations: Obj | None = None, managed: list[Obj] | None = None) -> Obj:
    metadata: Obj = {"name": "web", "namespace": "foo"}
    if annotations is not None:
        metadata["annotations"] = annotations
    if managed is not None:
        metadata["managedFields"] = managed
    return {"kind": "Service", "metadata": metadata, "spec": spec}


def last_applied(spec: Obj) -> Obj:
    return {"kubectl.kubernetes.io/last-applied-configuration": orjson.dumps({"spec": spec}).decode()}


def managed_port(port: int, protocol: str = "TCP", *fields: str) -> list[Obj]:
    key = f'k:{{"port":{port},"protocol":"{protocol}"}}'
    spec: Obj = {"f:ports": {key: {".": {}, "f:port": {}, "f:nodePort": {}}}}
    for field in fields:
        spec[field] = {}
    return [{"manager": "kubectl-create", "operation": "Update", "fieldsV1": {"f:spec": spec}}]


def test_metadata_and_status_are_cleared_and_the_rest_kept() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "c",
            "namespace": "foo",
            "labels": {"a": "b"},
            "annotations": {"x": "y"},
            "finalizers": ["f"],
            **SERVER_META,
        },
        "data": {"k": "v"},
        "status": {"phase": "whatever"},
    }
    new = transform("/api/v1/namespaces/foo/configmaps/c", obj)
    assert new == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "c",
            "namespace": "foo",
            "labels": {"a": "b"},
            "annotations": {"x": "y"},
            "finalizers": ["f"],
        },
        "data": {"k": "v"},
    }


PORTS_80_443 = [
    {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080},
    {"name": "https", "port": 443, "targetPort": 8443, "nodePort": 30443},
]


@pytest.mark.parametrize(
    ("obj", "expected_spec"),
    [
        (  # ClusterIP: the IPs are allocated by the destination
            svc(
                {
                    "type": "ClusterIP",
                    "clusterIP": "10.0.0.1",
                    "clusterIPs": ["10.0.0.1"],
                    "ports": [{"port": 80}],
                }
            ),
            {"type": "ClusterIP", "ports": [{"port": 80}]},
        ),
        (  # headless: "None" is the user's choice and is kept
            svc({"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 80}]}),
            {"clusterIP": "None", "clusterIPs": ["None"], "ports": [{"port": 80}]},
        ),
        (  # NodePort with allocated ports: dropped
            svc({"type": "NodePort", "clusterIP": "10.0.0.2", "ports": copy.deepcopy(PORTS_80_443)}),
            {
                "type": "NodePort",
                "ports": [
                    {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                    {"name": "https", "port": 443, "targetPort": 8443},
                ],
            },
        ),
        (  # last-applied shows the client chose 30080 on port 80 only
            svc(
                {"type": "NodePort", "ports": copy.deepcopy(PORTS_80_443)},
                annotations=last_applied({"ports": [{"port": 80, "nodePort": 30080}, {"port": 443}]}),
            ),
            {
                "type": "NodePort",
                "ports": [
                    {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080},
                    {"name": "https", "port": 443, "targetPort": 8443},
                ],
            },
        ),
        (  # managedFields show the client set port 443's nodePort (protocol defaulted to TCP)
            svc({"type": "LoadBalancer", "ports": copy.deepcopy(PORTS_80_443)}, managed=managed_port(443)),
            {
                "type": "LoadBalancer",
                "ports": [
                    {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                    {"name": "https", "port": 443, "targetPort": 8443, "nodePort": 30443},
                ],
            },
        ),
        (  # a UDP key does not make the TCP port explicit
            svc(
                {"type": "NodePort", "ports": [{"port": 53, "nodePort": 30053}]},
                managed=managed_port(53, "UDP"),
            ),
            {"type": "NodePort", "ports": [{"port": 53}]},
        ),
        (  # not a NodePort type: node ports are dropped even if a client once set them
            svc(
                {"type": "ClusterIP", "ports": [{"port": 80, "nodePort": 30080}]},
                annotations=last_applied({"ports": [{"port": 80, "nodePort": 30080}]}),
            ),
            {"type": "ClusterIP", "ports": [{"port": 80}]},
        ),
        (  # healthCheckNodePort allocated: dropped
            svc(
                {
                    "type": "LoadBalancer",
                    "externalTrafficPolicy": "Local",
                    "healthCheckNodePort": 32000,
                    "ports": [],
                }
            ),
            {"type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": []},
        ),
        (  # healthCheckNodePort chosen (managedFields): kept
            svc(
                {"type": "LoadBalancer", "healthCheckNodePort": 32000, "ports": []},
                managed=managed_port(1, "TCP", "f:healthCheckNodePort"),
            ),
            {"type": "LoadBalancer", "healthCheckNodePort": 32000, "ports": []},
        ),
        (  # healthCheckNodePort chosen (last-applied): kept
            svc(
                {"type": "LoadBalancer", "healthCheckNodePort": 32000, "ports": []},
                annotations=last_applied({"healthCheckNodePort": 32000}),
            ),
            {"type": "LoadBalancer", "healthCheckNodePort": 32000, "ports": []},
        ),
        (  # broken last-applied JSON is ignored, not fatal
            svc(
                {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]},
                annotations={"kubectl.kubernetes.io/last-applied-configuration": "{not json"},
            ),
            {"type": "NodePort", "ports": [{"port": 80}]},
        ),
    ],
)
def test_services(obj: Obj, expected_spec: Obj) -> None:
    assert transform(SERVICE, obj)["spec"] == expected_spec


def test_persistent_volume_claim_ref() -> None:
    obj = {
        "metadata": {"name": "pv-1"},
        "spec": {
            "claimRef": {
                "kind": "PersistentVolumeClaim",
                "namespace": "foo",
                "name": "data",
                "uid": "u",
                "resourceVersion": "9",
            },
            "nfs": {"server": "nfs", "path": "/x"},
        },
        "status": {"phase": "Bound"},
    }
    new = transform("/api/v1/persistentvolumes/pv-1", obj)
    assert new["spec"]["claimRef"] == {"kind": "PersistentVolumeClaim", "namespace": "foo", "name": "data"}
    assert "status" not in new


def test_persistent_volume_claim_annotations() -> None:
    annotations = {
        "pv.kubernetes.io/bind-completed": "yes",
        "pv.kubernetes.io/bound-by-controller": "yes",
        "volume.kubernetes.io/selected-node": "node-1",
        "volume.beta.kubernetes.io/storage-provisioner": "nfs",
        "volume.kubernetes.io/storage-provisioner": "nfs",
        "volume.beta.kubernetes.io/storage-class": "nfs-client",
        "mine": "kept",
    }
    obj = {
        "metadata": {"name": "data", "namespace": "foo", "annotations": annotations},
        "spec": {"volumeName": "pv-1"},
    }
    new = transform("/api/v1/namespaces/foo/persistentvolumeclaims/data", obj)
    assert new["metadata"]["annotations"] == {
        "volume.beta.kubernetes.io/storage-class": "nfs-client",
        "mine": "kept",
    }
    assert new["spec"] == {"volumeName": "pv-1"}  # rebinding keeps the volume


def test_pods() -> None:
    obj = {
        "metadata": {"name": "p", "namespace": "foo"},
        "spec": {
            "nodeName": "node-1",
            "priority": 0,
            "priorityClassName": "low",
            "serviceAccountName": "robot",
            "volumes": [
                {"name": "robot-token-abcde", "secret": {"secretName": "robot-token-abcde"}},
                {"name": "data", "secret": {"secretName": "app-secret"}},
            ],
            "containers": [
                {
                    "name": "c",
                    "volumeMounts": [
                        {"name": "robot-token-abcde", "mountPath": "/var/run"},
                        {"name": "data", "mountPath": "/d"},
                    ],
                }
            ],
        },
    }
    spec = transform("/api/v1/namespaces/foo/pods/p", obj)["spec"]
    assert "nodeName" not in spec
    assert "priority" not in spec
    assert spec["priorityClassName"] == "low"
    assert spec["volumes"] == [{"name": "data", "secret": {"secretName": "app-secret"}}]
    assert spec["containers"][0]["volumeMounts"] == [{"name": "data", "mountPath": "/d"}]


def test_service_account_token_references() -> None:
    obj = {
        "metadata": {"name": "robot", "namespace": "foo"},
        "secrets": [{"name": "robot-token-abcde"}, {"name": "robot-dockercfg"}],
        "imagePullSecrets": [{"name": "robot-dockercfg"}],
    }
    new = transform("/api/v1/namespaces/foo/serviceaccounts/robot", obj)
    assert new["secrets"] == [{"name": "robot-dockercfg"}]
    assert new["imagePullSecrets"] == [{"name": "robot-dockercfg"}]
    only_token = {"metadata": {"name": "robot"}, "secrets": [{"name": "robot-token-x"}]}
    assert "secrets" not in transform("/api/v1/namespaces/foo/serviceaccounts/robot", only_token)


@pytest.mark.parametrize("manual", [None, False, True])
def test_jobs(manual: bool | None) -> None:
    uid = {"controller-uid": "u", "batch.kubernetes.io/controller-uid": "u", "job-name": "once"}
    spec: Obj = {
        "selector": {"matchLabels": {"controller-uid": "u"}},
        "template": {"metadata": {"labels": dict(uid)}, "spec": {}},
    }
    if manual is not None:
        spec["manualSelector"] = manual
    obj = {"metadata": {"name": "once", "namespace": "foo", "labels": dict(uid)}, "spec": spec}
    new = transform("/apis/batch/v1/namespaces/foo/jobs/once", obj)
    if manual:
        assert new["spec"] == spec
    else:
        assert "selector" not in new["spec"]
        assert new["spec"]["template"]["metadata"]["labels"] == {"job-name": "once"}
        assert new["metadata"]["labels"] == {"job-name": "once"}


@pytest.mark.parametrize(
    ("path", "obj"),
    [
        (
            SERVICE,
            svc(
                {"type": "NodePort", "clusterIP": "10.0.0.9", "ports": copy.deepcopy(PORTS_80_443)},
                managed=managed_port(80),
            ),
        ),
        (
            "/api/v1/namespaces/foo/pods/p",
            {
                "metadata": {"name": "p", **SERVER_META},
                "spec": {
                    "nodeName": "n",
                    "volumes": [{"name": "default-token-a", "secret": {"secretName": "default-token-a"}}],
                    "containers": [{"volumeMounts": [{"name": "default-token-a"}]}],
                },
                "status": {},
            },
        ),
        (
            "/api/v1/namespaces/foo/persistentvolumeclaims/d",
            {"metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes"}}},
        ),
        ("/api/v1/persistentvolumes/p", {"spec": {"claimRef": {"uid": "u"}}}),
        (
            "/apis/batch/v1/namespaces/foo/jobs/j",
            {
                "metadata": {"labels": {"controller-uid": "u"}},
                "spec": {"selector": {}, "template": {"metadata": {"labels": {"controller-uid": "u"}}}},
            },
        ),
        (
            "/api/v1/namespaces/foo/serviceaccounts/s",
            {"metadata": {"name": "s"}, "secrets": [{"name": "s-token-1"}]},
        ),
    ],
)
def test_input_is_never_mutated(path: str, obj: Obj) -> None:
    before = copy.deepcopy(obj)
    new = transform(path, obj)
    assert obj == before
    assert new != obj  # something did change, so the test means something


def test_weird_shapes_do_not_crash() -> None:
    assert transform(SERVICE, {"spec": "nonsense", "metadata": []}) == {"spec": "nonsense", "metadata": []}
    assert transform("/api/v1/namespaces/foo/pods/p", {"spec": {"volumes": "x"}}) == {
        "spec": {"volumes": "x"}
    }
