"""In-memory store opener and cluster connector, to inject through a Context.

:class:`FakeStores` hands out a :class:`~k8ssnap.store.snapshots.SnapshotStore`
over one :class:`~k8ssnap.testing.store.FakeObjectStore` for every
ObjectstoreConfig name, records the names asked for in ``opened`` and the
retry budgets in ``budgets``, and raises ``refused[name]`` instead for names
it refuses. :class:`FakeConnector` yields ``ctx.kube`` for an in-cluster
reference and ``remote`` for any other, recording the references.

``FakeStores.config`` answers an ObjectstoreConfig named as asked (``only``
for None) whose ``spec.encryption`` is ``FakeStores.encryption`` (empty:
none), so a test sets the store's keys by filling that dict.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from k8ssnap.api.meta import KubeconfigRef
from k8ssnap.api.resources import ObjectstoreConfig, parse_objectstore_config
from k8ssnap.kube.api import KubeApi
from k8ssnap.store.snapshots import SnapshotStore
from k8ssnap.testing.store import FakeObjectStore

if TYPE_CHECKING:
    from k8ssnap.controllers.context import Context, Subject


class FakeStores:
    """A :class:`~k8ssnap.controllers.context.StoreOpener` over one in-memory bucket."""

    def __init__(self, bucket: FakeObjectStore | None = None, *, prefix: str = "") -> None:
        self.bucket = bucket or FakeObjectStore()
        self.prefix = prefix
        self.opened: list[str | None] = []
        self.budgets: list[float | None] = []
        self.refused: dict[str | None, Exception] = {}
        self.encryption: dict[str, Any] = {}

    async def config(self, ctx: Context, name: str | None) -> ObjectstoreConfig:
        spec = {"bucket": "bkt", "cloudCredentialSecret": "creds", "encryption": self.encryption}
        return parse_objectstore_config(
            {"metadata": {"name": name or "only", "namespace": "ns"}, "spec": spec}
        )

    @asynccontextmanager
    async def __call__(
        self, ctx: Context, name: str | None, *, subject: Subject, max_elapsed: float | None = None
    ) -> AsyncIterator[SnapshotStore]:
        self.opened.append(name)
        self.budgets.append(max_elapsed)
        if name in self.refused:
            raise self.refused[name]
        yield SnapshotStore(self.bucket, prefix=self.prefix)


class FakeConnector:
    """A :class:`~k8ssnap.controllers.context.ClusterConnector` with one remote cluster."""

    def __init__(self, remote: KubeApi | None = None) -> None:
        self.remote = remote
        self.refs: list[KubeconfigRef] = []
        self.refused: Exception | None = None

    @asynccontextmanager
    async def __call__(self, ctx: Context, ref: KubeconfigRef, *, subject: Subject) -> AsyncIterator[KubeApi]:
        self.refs.append(ref)
        if ref.in_cluster:
            yield ctx.kube
            return
        if self.refused is not None:
            raise self.refused
        if self.remote is None:
            raise AssertionError("FakeConnector has no remote cluster")
        yield self.remote
