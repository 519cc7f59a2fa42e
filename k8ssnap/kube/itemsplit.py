"""Splitting a LIST page into its items' bytes, without building Python objects.

A snapshot archives every object as the API server sent it. Parsing each
page into dicts and encoding every item again was most of a snapshot's CPU
(docs/performance.md); here msgspec splits the page natively into one
``Raw`` byte range per item and reads, per item, only what the snapshot
needs: ``metadata.name``, ``metadata.namespace`` and whether ``apiVersion``
and ``kind`` are there. Everything else in the item is skipped by the
decoder and kept byte for byte.

Items of a LIST of built-in resources lack ``apiVersion`` and ``kind``;
:func:`split_page` puts them in front of the item's other fields, so every
archived object is complete on its own, as before. Items that carry them
(custom resources) keep them; an item whose own values differ from the
resource's is re-encoded with the resource's values, as the old code did.

A page that is not a Kubernetes list, or an item that is not an object with
a string ``metadata.name``, raises :class:`MalformedPage`: nothing is
archived from a page that cannot be read completely.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import orjson


class MalformedPage(ValueError):
    """The page, or one of its items, is not what a LIST answer must be."""


# gc=False: these hold only strings and bytes, so the cyclic collector need not track them.
class _ListMeta(msgspec.Struct, frozen=True, gc=False, rename="camel"):
    resource_version: str = ""
    continue_: str = msgspec.field(default="", name="continue")


class _List(msgspec.Struct, frozen=True, rename="camel"):
    metadata: _ListMeta = _ListMeta()
    items: list[msgspec.Raw] | None = None


class _ObjectMeta(msgspec.Struct, frozen=True, gc=False):
    name: str
    namespace: str = ""


class _Item(msgspec.Struct, frozen=True, gc=False, rename="camel"):
    metadata: _ObjectMeta
    api_version: str | None = None
    kind: str | None = None


_LIST_DECODER = msgspec.json.Decoder(_List)
_ITEM_DECODER = msgspec.json.Decoder(_Item)


@dataclass(frozen=True, slots=True)
class RawItem:
    """One listed object: its name, namespace (``""`` if cluster-scoped) and complete JSON."""

    name: str
    namespace: str
    body: bytes


@dataclass(frozen=True, slots=True)
class RawPage:
    """One LIST page: its items, the list's resourceVersion and continue token."""

    items: list[RawItem]
    resource_version: str
    continue_token: str


def split_page(raw: bytes, *, api_version: str, kind: str) -> RawPage:
    """Split the LIST answer ``raw`` into items, each with ``apiVersion`` and ``kind``.

    Raises :class:`MalformedPage` for anything that is not a list of objects
    with a string ``metadata.name``.
    """
    try:
        page = _LIST_DECODER.decode(raw)
    except (msgspec.DecodeError, ValueError) as exc:
        raise MalformedPage(f"not a Kubernetes list: {exc}") from None
    head = orjson.dumps({"apiVersion": api_version, "kind": kind})[:-1]  # without the closing brace
    items = [_item(item, head=head, api_version=api_version, kind=kind) for item in page.items or ()]
    return RawPage(
        items=items,
        resource_version=page.metadata.resource_version,
        continue_token=page.metadata.continue_,
    )


def _item(raw: msgspec.Raw, *, head: bytes, api_version: str, kind: str) -> RawItem:
    try:
        item = _ITEM_DECODER.decode(raw)
    except (msgspec.DecodeError, ValueError) as exc:
        raise MalformedPage(f"an item is not a Kubernetes object: {exc}") from None
    meta = item.metadata
    if item.api_version is None and item.kind is None:
        return RawItem(name=meta.name, namespace=meta.namespace, body=_prepend(head, raw))
    if item.api_version == api_version and item.kind == kind:
        return RawItem(name=meta.name, namespace=meta.namespace, body=bytes(raw))
    # Rare (one of the two missing, or other values): the old path, parse and re-encode.
    obj = orjson.loads(memoryview(raw))
    obj["apiVersion"] = api_version
    obj["kind"] = kind
    return RawItem(name=meta.name, namespace=meta.namespace, body=orjson.dumps(obj))


def _prepend(head: bytes, raw: msgspec.Raw) -> bytes:
    """``head`` (``{"apiVersion":..,"kind":..``) joined to the object ``raw`` after its ``{``.

    The decoder accepted ``raw`` as an object with ``metadata``, so it starts
    with ``{`` (msgspec's ranges start at the value) and has a field after it.
    """
    return b"".join((head, b",", memoryview(raw)[1:]))
