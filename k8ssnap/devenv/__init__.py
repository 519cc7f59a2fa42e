"""The local environment: real etcd, two real Kubernetes clusters and a real S3.

Nothing here is an imitation. kube-apiserver, kube-controller-manager and
kubectl are built from the published ``k8s.io/kubernetes`` module, etcd from
``go.etcd.io/etcd/server/v3``, both through the Go module proxy, and cached
by version in the user's cache folder (see :mod:`k8ssnap.devenv.build`).
S3 is SeaweedFS from PyPI. The demo, the tests and the benchmark all use
:class:`k8ssnap.devenv.env.Environment`.

Standard library only, so it can run before anything else is importable.
"""
