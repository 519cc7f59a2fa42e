"""Hostile LIST pages: odd JSON, huge items, missing metadata. Nothing half-read is archived."""

from __future__ import annotations

import orjson
import pytest

from k8ssnap import errors
from k8ssnap.domain.paths import ApiResource
from k8ssnap.kube.itemsplit import MalformedPage, RawItem, split_page
from k8ssnap.snapshot import engine


def _split(raw: bytes) -> list[tuple[str, str, bytes]]:
    page = split_page(raw, api_version="v1", kind="ConfigMap")
    return [(item.name, item.namespace, item.body) for item in page.items]


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'"a string"',
        b'{"items":[{"metadata":{"name":"a"}}',  # truncated
        b'{"items":{"metadata":{"name":"a"}}}',  # items not a list
        b'{"items":[1]}',
        b'{"items":["x"]}',
        b'{"items":[null]}',
        b'{"items":[[]]}',
        b'{"items":[{}]}',  # no metadata
        b'{"items":[{"metadata":null}]}',
        b'{"items":[{"metadata":{}}]}',  # no name
        b'{"items":[{"metadata":{"name":7}}]}',
        b'{"items":[{"metadata":{"name":"a","namespace":["x"]}}]}',
        b'{"items":[{"metadata":{"name":"a"},"kind":5}]}',
        b'{"items":[{"metadata":{"name":"a"}}],"metadata":{"resourceVersion":12}}',
        b'{"items":[{"metadata":{"name":"a"}} {"metadata":{"name":"b"}}]}',  # no comma
        b'{"items":[{"metadata":{"name":"a"}}]} trailing',
        b'{"items":[{"metadata":{"name":"a\\ud800"}}]}',  # lone surrogate in a name
    ],
)
def test_fault_malformed_page_raises_malformed_page(raw: bytes) -> None:
    with pytest.raises(MalformedPage):
        _split(raw)


def test_fault_malformed_page_message_holds_no_object_content() -> None:
    secret = b"c2VjcmV0LWtleS1tYXRlcmlhbA=="
    with pytest.raises(MalformedPage) as caught:
        _split(b'{"items":[{"metadata":{"name":7},"data":{"k":"' + secret + b'"}}]}')
    assert secret.decode() not in str(caught.value)


def test_fault_huge_item_is_kept_whole() -> None:
    blob = "x" * (3 * 1024 * 1024)
    item = orjson.dumps({"metadata": {"name": "big", "namespace": "ns"}, "data": {"blob": blob}})
    [(name, namespace, body)] = _split(b'{"items":[' + item + b"]}")
    assert (name, namespace) == ("big", "ns")
    assert orjson.loads(body)["data"]["blob"] == blob


def test_fault_deeply_nested_item_is_kept_whole() -> None:
    nested = b"[" * 900 + b"]" * 900
    item = b'{"metadata":{"name":"deep"},"spec":' + nested + b"}"
    [(_, _, body)] = _split(b'{"items":[' + item + b"]}")
    assert body.endswith(b'"spec":' + nested + b"}")


def test_fault_duplicate_metadata_keys_take_the_last_like_the_api_decoders() -> None:
    item = b'{"metadata":{"name":"first","name":"second"}}'
    [(name, _, _)] = _split(b'{"items":[' + item + b"]}")
    assert name == orjson.loads(item)["metadata"]["name"]


def test_fault_unknown_and_odd_fields_pass_through_untouched() -> None:
    item = b'{"metadata":{"name":"a","labels":{"\\u00e9":"\\ud83d\\ude00"}},"x":[1e400,-0.0,null,true]}'
    [(_, _, body)] = _split(b'{"items":[' + item + b"]}")
    assert body == b'{"apiVersion":"v1","kind":"ConfigMap",' + item[1:]  # skipped, never re-encoded


_NAMESPACES = ApiResource(group="", version="v1", resource="namespaces", kind="Namespace", namespaced=False)
_CONFIGMAPS = ApiResource(group="", version="v1", resource="configmaps", kind="ConfigMap", namespaced=True)


@pytest.mark.parametrize(
    ("resource", "name", "namespace"),
    [
        (_NAMESPACES, "a", "kube-system"),  # a namespace on a cluster-scoped object
        (_CONFIGMAPS, "a", ""),  # a namespaced object without one
        (_CONFIGMAPS, "a/../../secrets/s", "ns"),  # a name that would make another object's path
        (_CONFIGMAPS, "..", "ns"),
    ],
)
def test_fault_item_that_cannot_make_its_path_fails_the_snapshot(
    resource: ApiResource, name: str, namespace: str
) -> None:
    item = RawItem(name=name, namespace=namespace, body=b"{}")
    with pytest.raises(errors.PermanentError, match="cannot archive an object"):
        engine._batch(resource, [item])
