"""k8ssnap.runtime: the controller runtime (client-go's workqueue, informer and leader election).

It knows nothing about snapshots. Import the modules, not names:

* :mod:`~k8ssnap.runtime.clock` -- the injected ``Clock`` Protocol, ``RealClock``, ``wait_for``
  (``FakeClock`` for tests is in :mod:`k8ssnap.testing.fakeclock`).
* :mod:`~k8ssnap.runtime.ratelimit` -- per-item exponential, token bucket, max-of limiters.
* :mod:`~k8ssnap.runtime.queue` -- ``WorkQueue``: dirty/processing sets, shutdown with drain;
  :mod:`~k8ssnap.runtime.delaying` -- ``DelayingQueue`` and ``RateLimitingQueue``.
* :mod:`~k8ssnap.runtime.metrics` -- prometheus-client behind a get-or-create registry;
  :mod:`~k8ssnap.runtime.queuemetrics` -- the ``workqueue_*`` metrics.
* :mod:`~k8ssnap.runtime.source` -- the ``ListWatcher`` Protocol, ``ObjectKey``;
  :mod:`~k8ssnap.runtime.reflector`, :mod:`~k8ssnap.runtime.informer` -- cache and events;
  :mod:`~k8ssnap.runtime.backoff` -- jittered backoff (a scripted ``ListWatcher`` for
  tests is in :mod:`k8ssnap.testing.fakesource`).
* :mod:`~k8ssnap.runtime.controller` -- workers over a queue, ``Requeue``.
* :mod:`~k8ssnap.runtime.leader` -- Lease-based leader election.
"""
