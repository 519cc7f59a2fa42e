"""In-memory fakes of k8ssnap's adapters, for unit tests only.

One shared set: :class:`~k8ssnap.testing.kube.FakeKube` (a
:class:`~k8ssnap.kube.api.KubeApi`), :class:`~k8ssnap.testing.store.FakeObjectStore`
(an :class:`~k8ssnap.store.objectstore.ObjectStore`), and the
:class:`~k8ssnap.testing.adapters.FakeStores` / :class:`~k8ssnap.testing.adapters.FakeConnector`
that a :class:`~k8ssnap.controllers.context.Context` takes, the engines'
:class:`~k8ssnap.testing.apiserver.FakeApiServer`, and the runtime's
:class:`~k8ssnap.testing.fakeclock.FakeClock` and scripted
:class:`~k8ssnap.testing.fakesource.FakeListWatcher`. They satisfy the
Protocols as they are (no casts), so tests never patch production modules.
No production package imports this one (an import-linter contract says so).
"""
