"""The reflector: keeps a store in step with the API by LIST, then WATCH.

A port of client-go's ``tools/cache/reflector.go``.

:meth:`Reflector.run` repeats *list, then watch* until cancelled, waiting
for the jittered :class:`~k8ssnap.runtime.backoff.Backoff` (0.8 s doubling
to 30 s, reset after 2 quiet minutes) between rounds, as client-go's
``BackoffUntil`` does.

**List.** The resourceVersion of a list is chosen as client-go's
``relistResourceVersion`` does:

* ``"0"`` for the very first list, so the API server's watch cache serves it;
* the last synced resourceVersion for every later list ("at least as fresh
  as what we had": no going back in time);
* ``""`` (a quorum read) only after a list *itself* failed with
  :class:`~k8ssnap.errors.Gone`; that fallback is tried at once, and the
  flag is cleared by the next successful list.

Lists are paginated with ``page_size`` (500) and continue tokens; pages
after the first are requested with ``resource_version=""``, as the API
requires. If a continuation page fails with Gone, the pager falls back to
one unpaginated list at the requested version. As in client-go, a relist
at a specific version is sent *without* a limit (so the watch cache can
serve it) unless the first list came back paginated, which shows that the
server has no watch cache for this resource. The complete result replaces
the store at once (:meth:`ReflectorStore.replace`).

**Watch.** Then it watches from the last synced version with bookmarks and
a random ``timeoutSeconds`` in [``min_watch_timeout``, 2 x that) (5-10
minutes) to spread reconnects. ADDED, MODIFIED and DELETED go to the
store; every event, BOOKMARK included, advances the last synced version
(bookmarks do nothing else). An ERROR event is turned into its exception.

* A stream the server ends normally is re-opened at once, from the last
  synced version; one that ends within a second without a single event is
  treated as trouble and leads to a relist after backoff.
* :class:`~k8ssnap.errors.Gone` (raised, or an ERROR event with code 410):
  relist after backoff, from the last synced version -- *not* from ``""``,
  since a LIST at a version already means "at least this fresh".
* :class:`~k8ssnap.errors.RetriableError` (lost connection, 5xx, 429):
  backoff, then re-watch from the last synced version, without relisting.
* Any other error: relist after backoff.

Store calls happen synchronously in the reflector's task, in event order,
so per-object ordering is preserved.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any, Protocol

from k8ssnap import errors
from k8ssnap.runtime.backoff import Backoff
from k8ssnap.runtime.clock import Clock
from k8ssnap.runtime.source import (
    ADDED,
    BOOKMARK,
    DELETED,
    ERROR,
    MODIFIED,
    ListWatcher,
    WatchEvent,
    error_from_status,
    resource_version_of,
)

log = logging.getLogger(__name__)

#: A watch shorter than this that delivered nothing counts as trouble.
SHORT_WATCH = 1.0


class ReflectorStore(Protocol):
    """What a reflector feeds: full replacements and single-object changes."""

    def replace(self, items: list[dict[str, Any]], resource_version: str) -> None: ...

    def add(self, obj: dict[str, Any]) -> None: ...

    def update(self, obj: dict[str, Any]) -> None: ...

    def delete(self, obj: dict[str, Any]) -> None: ...


class Reflector:
    """LIST then WATCH into a :class:`ReflectorStore`; see the module docstring."""

    def __init__(
        self,
        *,
        name: str,
        source: ListWatcher,
        store: ReflectorStore,
        clock: Clock,
        page_size: int = 500,
        min_watch_timeout: float = 300.0,
        rand: Callable[[], float] = random.random,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self._source = source
        self._store = store
        self._clock = clock
        self._page_size = page_size
        self._min_watch_timeout = min_watch_timeout
        self._rand = rand
        self._backoff = backoff if backoff is not None else Backoff(clock=clock, rand=rand)
        self._last_sync_rv = ""
        self._last_sync_rv_unavailable = False
        self._paginated_result = False

    @property
    def last_sync_resource_version(self) -> str:
        """The resourceVersion of the last list or event applied to the store."""
        return self._last_sync_rv

    async def run(self) -> None:
        """List and watch until cancelled; never returns otherwise."""
        while True:
            try:
                await self._list_and_watch()
            except errors.K8sSnapError as err:
                log.warning("reflector %s: %s: %s", self.name, type(err).__name__, err.reason)
            except Exception:
                log.exception("reflector %s: unexpected error", self.name)
            await self._backoff.sleep()

    async def _list_and_watch(self) -> None:
        await self._list()
        await self._watch()

    # -- list ----------------------------------------------------------------

    def _relist_resource_version(self) -> str:
        if self._last_sync_rv_unavailable:
            return ""
        if not self._last_sync_rv:
            return "0"
        return self._last_sync_rv

    def _page_size_for(self, resource_version: str) -> int:
        if self._paginated_result or resource_version in ("", "0"):
            return self._page_size
        return 0

    async def _list(self) -> None:
        resource_version = self._relist_resource_version()
        page_size = self._page_size_for(resource_version)
        try:
            items, list_rv, paginated = await self._list_pages(resource_version, page_size)
        except errors.Gone:
            log.info("reflector %s: list at %r expired; quorum read", self.name, resource_version)
            self._last_sync_rv_unavailable = True
            retry_rv = self._relist_resource_version()
            items, list_rv, paginated = await self._list_pages(retry_rv, page_size)
        if resource_version == "0" and paginated:
            self._paginated_result = True
        self._last_sync_rv_unavailable = False
        self._store.replace(items, list_rv)
        self._last_sync_rv = list_rv

    async def _list_pages(self, resource_version: str, limit: int) -> tuple[list[dict[str, Any]], str, bool]:
        """All pages of one LIST: ``(items, list resourceVersion, was it paginated)``."""
        items: list[dict[str, Any]] = []
        token = ""
        while True:
            try:
                page = await self._source.list(
                    limit=limit,
                    continue_token=token,
                    resource_version="" if token else resource_version,
                )
            except errors.Gone:
                if not token:
                    raise
                log.info("reflector %s: continue token expired; full list", self.name)
                page = await self._source.list(limit=0, continue_token="", resource_version=resource_version)
                return list(page.items), page.resource_version, True
            items.extend(page.items)
            if not page.continue_token:
                return items, page.resource_version, bool(token)
            token = page.continue_token

    # -- watch -----------------------------------------------------------------

    async def _watch(self) -> None:
        """Watch, re-watching as needed; return when a relist is needed."""
        while True:
            timeout = int(self._min_watch_timeout * (1.0 + self._rand()))
            started = self._clock.now()
            try:
                seen = await self._consume_watch(timeout)
            except errors.Gone as err:
                log.info("reflector %s: watch expired (%s); relisting", self.name, err.reason)
                return
            except errors.RetriableError as err:
                log.info("reflector %s: watch failed (%s); backing off", self.name, err.reason)
                await self._backoff.sleep()
                continue
            if seen == 0 and self._clock.now() - started < SHORT_WATCH:
                log.warning("reflector %s: very short watch with no events; relisting", self.name)
                return

    async def _consume_watch(self, timeout: int) -> int:
        """Apply one watch stream's events; return how many were seen."""
        stream = self._source.watch(resource_version=self._last_sync_rv, timeout_seconds=timeout)
        seen = 0
        try:
            async for event in stream:
                seen += 1
                self._apply(event)
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        return seen

    def _apply(self, event: WatchEvent) -> None:
        if event.type == ERROR:
            raise error_from_status(event.object)
        if event.type == ADDED:
            self._store.add(event.object)
        elif event.type == MODIFIED:
            self._store.update(event.object)
        elif event.type == DELETED:
            self._store.delete(event.object)
        elif event.type != BOOKMARK:
            log.warning("reflector %s: ignoring watch event of type %r", self.name, event.type)
            return
        resource_version = resource_version_of(event.object)
        if resource_version:
            self._last_sync_rv = resource_version

    def __repr__(self) -> str:
        return f"<Reflector {self.name} rv={self._last_sync_rv!r}>"
