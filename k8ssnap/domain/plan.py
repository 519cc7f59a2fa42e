"""Restore planning: the pure decisions of a restore, in the order it makes them.

A restore engine streams an archive twice (or spools it) and asks, per object:

1. :func:`classify` -- first pass. Preference-excluded objects only count
   towards ``numPreferenceExcluded``; the others get a :class:`Tier`.
   Every result is fed to :meth:`PlanFacts.observe`.
2. :func:`exclusion_reason` -- second pass, per tiered object, once the
   facts are complete. A reason goes to ``status.excluded`` as
   :func:`excluded_entry`.
3. :func:`transform` -- the body to create, tier by tier; an engine calls it
   through :func:`k8ssnap.domain.placement.place`, which also applies the
   preference's ``namespaceMapping``.
4. A failed create goes to ``status.failed`` as :func:`failed_entry`.

This module re-exports those pieces so an engine imports one place; it
adds the result-list formats k8s-snap's status uses.
"""

from __future__ import annotations

from k8ssnap.domain.exclusion import exclusion_reason
from k8ssnap.domain.facts import PlanFacts
from k8ssnap.domain.tiers import Classified, PreferenceExcluded, Tier, Tiered, classify
from k8ssnap.domain.transform import transform

__all__ = [
    "FAILED_MESSAGE_LIMIT",
    "Classified",
    "PlanFacts",
    "PreferenceExcluded",
    "Tier",
    "Tiered",
    "classify",
    "excluded_entry",
    "exclusion_reason",
    "failed_entry",
    "transform",
]

FAILED_MESSAGE_LIMIT = 300
TRUNCATION_MARK = "....."


def excluded_entry(path: str, reason: str) -> str:
    """A ``status.excluded`` entry: ``"<path>,(<reason>)"``."""
    return f"{path},({reason})"


def failed_entry(path: str, message: str) -> str:
    """A ``status.failed`` entry: ``"<path>,<message>"``.

    The message is put on one line and, as in k8s-snap, cut to 300
    characters followed by ``.....`` when longer, so one verbose error
    cannot blow up the status object.
    """
    flat = " ".join(message.split())
    if len(flat) > FAILED_MESSAGE_LIMIT:
        flat = flat[:FAILED_MESSAGE_LIMIT] + TRUNCATION_MARK
    return f"{path},{flat}"
