"""k8ssnap's custom-resource API: k8s-snap's four kinds, unchanged.

* :mod:`~k8ssnap.api.constants` -- group, version, kinds, finalizer, phases.
* :mod:`~k8ssnap.api.types` -- TypedDicts of the raw spec and status JSON.
* :mod:`~k8ssnap.api.resources` -- frozen dataclasses and ``parse_*``.
* :mod:`~k8ssnap.api.status` -- one builder per status transition.

The CustomResourceDefinitions are ``artifacts/crd.yaml``; a unit test keeps
them and these modules in step. Import the submodules, not names from here.
"""
