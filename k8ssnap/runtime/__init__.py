"""k8ssnap.runtime: the controller runtime (client-go's workqueue, informer and leader election).

It knows nothing about snapshots. Import the modules, not names:

* :mod:`~k8ssnap.runtime.clock` -- the injected ``Clock`` Protocol, ``RealClock``, ``wait_for``;
  :mod:`~k8ssnap.runtime.fakeclock` -- ``FakeClock`` for tests.
* :mod:`~k8ssnap.runtime.ratelimit` -- per-item exponential, token bucket, max-of limiters.
* :mod:`~k8ssnap.runtime.queue` -- ``WorkQueue``: dirty/processing sets, shutdown with drain;
  :mod:`~k8ssnap.runtime.delaying` -- ``DelayingQueue`` and ``RateLimitingQueue``.
* :mod:`~k8ssnap.runtime.metrics` -- a small registry with Prometheus text output;
  :mod:`~k8ssnap.runtime.queuemetrics` -- the ``workqueue_*`` metrics.
* :mod:`~k8ssnap.runtime.source` -- the ``ListWatcher`` Protocol, ``ObjectKey``;
  :mod:`~k8ssnap.runtime.reflector`, :mod:`~k8ssnap.runtime.informer` -- cache and events;
  :mod:`~k8ssnap.runtime.backoff` -- jittered backoff; :mod:`~k8ssnap.runtime.fakesource` --
  a scripted ``ListWatcher`` for tests.
* :mod:`~k8ssnap.runtime.controller` -- workers over a queue, ``Requeue``.
* :mod:`~k8ssnap.runtime.leader` -- Lease-based leader election.
"""
