"""I/O adapter for kube-apiservers: connections, raw-JSON requests, discovery, listing.

Everything here speaks raw JSON through orjson, never the generated model
classes, and maps HTTP and connection failures into :mod:`k8ssnap.errors`
exactly once, in :mod:`k8ssnap.kube.client`.
"""

from k8ssnap.kube import lightlib

lightlib.install()  # before any module here imports kubernetes_asyncio
