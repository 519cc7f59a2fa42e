"""The restore engine: object store -> archive -> plan -> tiered, bounded-concurrency writes.

It knows nothing about custom resources; the Restore controller and the
CLI's one-shot mode both drive :class:`RestoreEngine` with a
:class:`RestoreJob` and read a :class:`RestoreResult`.

Modules: ``job`` (the job and result types), ``intake`` (first pass: stream,
verify, classify, spool), ``spool`` (per-tier temporary files), ``target``
(the destination's served resources), ``writer`` (create or overwrite one
object), ``readiness`` (waits after the CRD and storage tiers), ``ledger``
(the result lists) and ``engine`` (the tiers, in order).
"""

from k8ssnap.restore.engine import RestoreEngine
from k8ssnap.restore.job import RestoreJob, RestoreResult

__all__ = ["RestoreEngine", "RestoreJob", "RestoreResult"]
