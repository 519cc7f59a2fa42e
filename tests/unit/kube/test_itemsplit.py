"""The LIST page splitter: item bytes kept as sent, apiVersion and kind completed."""

from __future__ import annotations

import orjson
import pytest

from k8ssnap.kube.itemsplit import split_page


def _page(*items: bytes, rv: str = "42", token: str = "") -> bytes:
    meta = {"resourceVersion": rv, **({"continue": token} if token else {})}
    head = orjson.dumps({"kind": "ConfigMapList", "apiVersion": "v1", "metadata": meta})[:-1]
    return head + b',"items":[' + b",".join(items) + b"]}"


def test_items_keep_their_bytes_and_gain_api_version_and_kind_in_front() -> None:
    item = b'{"metadata":{"name":"a","namespace":"ns"},"data":{"k":"\\u003cb\\u003e","n":1.50}}'
    page = split_page(_page(item, token="tok"), api_version="v1", kind="ConfigMap")
    assert page.resource_version == "42"
    assert page.continue_token == "tok"
    [got] = page.items
    assert (got.name, got.namespace) == ("a", "ns")
    assert got.body == b'{"apiVersion":"v1","kind":"ConfigMap",' + item[1:]
    assert orjson.loads(got.body) == {"apiVersion": "v1", "kind": "ConfigMap", **orjson.loads(item)}


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        # custom resources carry both: kept byte for byte
        (
            b'{"apiVersion":"g.io/v1","kind":"W","metadata":{"name":"w"}}',
            b'{"apiVersion":"g.io/v1","kind":"W","metadata":{"name":"w"}}',
        ),
        # only one of them, or other values: the resource's, as the old code set them
        (
            b'{"kind":"W","metadata":{"name":"w"}}',
            {"apiVersion": "g.io/v1", "kind": "W", "metadata": {"name": "w"}},
        ),
        (
            b'{"apiVersion":"g.io/v1beta1","kind":"W","metadata":{"name":"w"}}',
            {"apiVersion": "g.io/v1", "kind": "W", "metadata": {"name": "w"}},
        ),
        # whitespace between and inside items is the API server's business
        (
            b' \n{ "metadata" : { "name" : "w" } } ',
            b'{"apiVersion":"g.io/v1","kind":"W", "metadata" : { "name" : "w" } }',
        ),
    ],
)
def test_api_version_and_kind_are_the_resources(item: bytes, expected: bytes | dict[str, object]) -> None:
    [got] = split_page(_page(item), api_version="g.io/v1", kind="W").items
    if isinstance(expected, bytes):
        assert got.body == expected
    else:
        assert orjson.loads(got.body) == expected


@pytest.mark.parametrize(
    ("raw", "items"),
    [
        (b'{"metadata":{"resourceVersion":"7"},"items":[]}', 0),
        (b'{"metadata":{"resourceVersion":"7"},"items":null}', 0),
        (b'{"metadata":{"resourceVersion":"7"}}', 0),
        (b"{}", 0),
    ],
)
def test_empty_lists(raw: bytes, items: int) -> None:
    assert len(split_page(raw, api_version="v1", kind="ConfigMap").items) == items


def test_a_page_of_many_items_splits_in_order() -> None:
    items = [
        orjson.dumps({"metadata": {"name": f"o-{i}", "namespace": "ns"}, "data": {"i": i}})
        for i in range(500)
    ]
    page = split_page(_page(*items), api_version="v1", kind="ConfigMap")
    assert [item.name for item in page.items] == [f"o-{i}" for i in range(500)]
    assert [orjson.loads(item.body)["data"]["i"] for item in page.items] == list(range(500))
