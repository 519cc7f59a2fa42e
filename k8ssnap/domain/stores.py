"""Which ObjectstoreConfig a Snapshot stores into.

A Snapshot names its ObjectstoreConfig in ``spec.objectstoreConfig``; when it
names none, it uses the only ObjectstoreConfig there is (k8s-snap's rule), and
none at all when there are several. Finalizers, housekeeping and start-up all
ask this one question, so it is answered here once.
"""

from __future__ import annotations

from collections.abc import Collection


def uses_config(named: object, *, config: str, configs: Collection[str]) -> bool:
    """Whether a Snapshot whose ``spec.objectstoreConfig`` is ``named`` uses ``config``.

    ``named`` is the raw field (None, "" or any JSON value for an unparsed spec);
    ``configs`` are the names of every ObjectstoreConfig in the namespace.
    """
    if named:
        return named == config
    return len(configs) == 1 and config in configs
