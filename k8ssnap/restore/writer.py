"""ObjectWriter: put one transformed object into the destination cluster.

Create, never update (k8s-snap's rule), unless overwriting is asked for:

* POST the body to its collection -> ``CREATED``. The answer is not
  parsed: a restore never needs it.
* ``AlreadyExists`` -> ``ALREADY_EXISTED``; or, when overwriting, GET the
  live object, put its ``metadata.resourceVersion`` into the body and PUT
  it -> ``UPDATED``. A ``Conflict`` (the object changed between the GET and
  the PUT) starts again from the GET, at most :data:`CONFLICT_ATTEMPTS`
  times.
* Retriable errors (5xx, 429, lost connections) are retried with the
  job's backoff, each call on its own budget. Anything else propagates as
  a :class:`~k8ssnap.errors.K8sSnapError` for the caller to record.

A dry-run writer sends every POST and PUT with ``dryRun=All``: the API
server runs admission and validation and stores nothing, so its answers
(created, AlreadyExists, Invalid, Forbidden...) are the real restore's
answers without its effects.

Known ambiguity: when a POST's connection drops after the server stored
the object, the retry sees ``AlreadyExists`` and the object is reported
as already existing although this restore created it.
"""

from __future__ import annotations

from typing import Any

import orjson

from k8ssnap import errors, retry
from k8ssnap.kube.api import KubeApi
from k8ssnap.restore.ledger import Outcome

CONFLICT_ATTEMPTS = 5
DRY_RUN_QUERY = {"dryRun": "All"}

Body = dict[str, Any]


class ObjectWriter:
    """Creates (and optionally replaces) objects through one client."""

    __slots__ = ("_backoff", "_kube", "_overwrite", "_query")

    def __init__(
        self, *, kube: KubeApi, backoff: retry.Backoff, overwrite: bool, dry_run: bool = False
    ) -> None:
        self._kube = kube
        self._backoff = backoff
        self._overwrite = overwrite
        self._query = DRY_RUN_QUERY if dry_run else None

    async def write(self, *, collection: str, path: str, body: Body) -> Outcome:
        """Put ``body`` (the object at ``path``, POSTed to ``collection``) in the cluster."""
        payload = orjson.dumps(body)

        async def post() -> bytes:
            return await self._kube.request("POST", collection, body=payload, query=self._query)

        try:
            await retry.retrying(post, backoff=self._backoff, what=f"create {path}")
        except errors.AlreadyExists:
            if not self._overwrite:
                return Outcome.ALREADY_EXISTED
            await self._replace(path, body)
            return Outcome.UPDATED
        return Outcome.CREATED

    async def _replace(self, path: str, body: Body) -> None:
        """PUT ``body`` over the live object, re-reading it after each Conflict."""
        for _ in range(CONFLICT_ATTEMPTS):
            live = await retry.retrying(
                lambda: self._kube.get(path), backoff=self._backoff, what=f"read {path}"
            )
            _set_resource_version(body, live)
            payload = orjson.dumps(body)

            async def put(payload: bytes = payload) -> bool:
                try:
                    await self._kube.request("PUT", path, body=payload, query=self._query)
                except errors.Conflict:
                    return False
                return True

            if await retry.retrying(put, backoff=self._backoff, what=f"replace {path}"):
                return
        raise errors.Conflict(f"the object kept changing: {CONFLICT_ATTEMPTS} replace attempts conflicted")


def _set_resource_version(body: Body, live: Body) -> None:
    live_meta = live.get("metadata")
    version = live_meta.get("resourceVersion") if isinstance(live_meta, dict) else None
    if not isinstance(version, str) or not version:
        raise errors.Invalid("the live object has no metadata.resourceVersion")
    metadata = body.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        raise errors.Invalid("the archived object's metadata is not an object")
    metadata["resourceVersion"] = version
