"""PV/PVC rebinding rules (k8s-snap's restore_pv.go), without the waiting.

A restore recreates a PersistentVolume and its claim only when the claim's
storage class is one of ``restoreNfsStorageClasses``: only then can the
destination reach the data the PV points at (an NFS export, typically).
A claim is rebound to the same PV by keeping ``spec.volumeName`` on the
claim and ``spec.claimRef`` (namespace and name) on the volume, so the two
may be created in any order and the PV controller binds them.

Checks on a claim, first failing one wins (k8s-snap's reasons):

* ``no-pvc-spec``: the claim has no spec.
* ``no-storageclass``: its class (``spec.storageClassName`` or the beta
  annotation) does not start with a ``restoreNfsStorageClasses`` entry.
* ``not-bounded``: it has no ``spec.volumeName``, so there is no PV to keep.
* ``pv-not-found``: its PV is not restored (absent, or itself excluded).
* ``no-pv-spec``: its PV has no spec.

A volume is restored only when a restored claim uses it; any other volume
is excluded as ``pvc-not-restored`` (k8s-snap dropped those silently).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from k8ssnap.domain.fields import annotations_of, has_spec, spec, text
from k8ssnap.domain.preference import Preference

NO_PVC_SPEC = "no-pvc-spec"
NO_STORAGECLASS = "no-storageclass"
NOT_BOUNDED = "not-bounded"
PV_NOT_FOUND = "pv-not-found"
NO_PV_SPEC = "no-pv-spec"
PVC_NOT_RESTORED = "pvc-not-restored"

BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def claim_storage_class(claim: Mapping[str, Any]) -> str:
    """The claim's storage class: ``spec.storageClassName``, else the beta annotation."""
    return text(spec(claim).get("storageClassName")) or text(annotations_of(claim).get(BETA_CLASS_ANNOTATION))


def claim_volume(claim: Mapping[str, Any]) -> str:
    """The PV the claim is bound to (``spec.volumeName``), or ``""``."""
    return text(spec(claim).get("volumeName"))


def claim_problem(claim: Mapping[str, Any], preference: Preference) -> str | None:
    """The first check a claim fails on its own, or None (its PV is checked later)."""
    if not has_spec(claim):
        return NO_PVC_SPEC
    if not preference.nfs_storage_class(claim_storage_class(claim)):
        return NO_STORAGECLASS
    if not claim_volume(claim):
        return NOT_BOUNDED
    return None
