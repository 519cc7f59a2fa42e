"""The informer: a local cache of one kind, kept current by a reflector, with event handlers.

Contract (after client-go's ``SharedInformer``):

* **Eventually consistent.** The cache converges on the API server's state;
  at any moment it may lag behind it.
* **Keyed by** :class:`~k8ssnap.runtime.source.ObjectKey` (namespace, name);
  the UID is not part of identity.
* **Handlers** are synchronous callables -- ``on_add(obj)``,
  ``on_update(old, new)``, ``on_delete(obj)`` -- called in the reflector's
  task right after the cache changed. They must be quick and only hand a key
  to a work queue; an exception from a handler is logged and swallowed.
* **Ordering**: the events of one object reach every handler in the order
  they happened (in fact all events are delivered in one total order).
* **No change is handled twice**: a watch event or relisted object whose
  resourceVersion equals the cached one is dropped; a DELETED for an
  object no longer cached (its deletion was already reported by a relist)
  is dropped.
* **Relist** replaces the cache: new objects are reported as adds, changed
  ones as updates, and cached objects the list no longer has as deletes
  (synthetic: ``on_delete`` then receives the last state the cache knew,
  since the final state is unknown).
* **Resync**: every ``resync_period`` seconds (0 disables it) the cache is
  replayed to the handlers as ``on_update(obj, obj)`` -- same object, same
  resourceVersion -- with no API traffic. Level-based controllers use it to
  revisit everything periodically.
* A handler added after objects are cached is first told about each of them
  with ``on_add``.
* :meth:`Informer.has_synced` turns true once the first complete list has
  been applied and stays true.

Cached objects are shared, raw JSON dicts: never modify one; copy first.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from k8ssnap.runtime.clock import Clock, RealClock
from k8ssnap.runtime.reflector import Reflector
from k8ssnap.runtime.source import ListWatcher, ObjectKey, key_of, resource_version_of

log = logging.getLogger(__name__)

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class EventHandlers:
    """One registration of handlers; a missing one is simply not called."""

    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


class Informer:
    """A cache of one kind plus handlers, fed by a :class:`Reflector`; see the module docstring."""

    def __init__(
        self,
        *,
        name: str,
        source: ListWatcher,
        clock: Clock | None = None,
        resync_period: float = 0.0,
        page_size: int = 500,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.name = name
        self._clock: Clock = clock if clock is not None else RealClock()
        self._resync_period = resync_period
        self._cache: dict[ObjectKey, Obj] = {}
        self._handlers: list[EventHandlers] = []
        self._synced = asyncio.Event()
        self.reflector = Reflector(
            name=name,
            source=source,
            store=self,
            clock=self._clock,
            page_size=page_size,
            rand=rand,
        )

    # -- running -------------------------------------------------------------

    async def run(self) -> None:
        """Run the reflector (and the resync timer) until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.reflector.run(), name=f"reflector-{self.name}")
            if self._resync_period > 0:
                group.create_task(self._resync_loop(), name=f"resync-{self.name}")

    def has_synced(self) -> bool:
        """Whether the first complete list has been applied."""
        return self._synced.is_set()

    async def wait_for_sync(self) -> None:
        """Return once :meth:`has_synced` is true."""
        await self._synced.wait()

    async def _resync_loop(self) -> None:
        while True:
            await self._clock.sleep(self._resync_period)
            if self.has_synced():
                self.resync()

    # -- handlers --------------------------------------------------------------

    def add_handler(
        self,
        *,
        on_add: Callable[[Obj], None] | None = None,
        on_update: Callable[[Obj, Obj], None] | None = None,
        on_delete: Callable[[Obj], None] | None = None,
    ) -> EventHandlers:
        """Register handlers; objects already cached are replayed to ``on_add``."""
        handlers = EventHandlers(on_add=on_add, on_update=on_update, on_delete=on_delete)
        self._handlers.append(handlers)
        if on_add is not None:
            for obj in builtins.list(self._cache.values()):
                self._call(on_add, obj)
        return handlers

    def _notify_add(self, obj: Obj) -> None:
        for handlers in self._handlers:
            if handlers.on_add is not None:
                self._call(handlers.on_add, obj)

    def _notify_update(self, old: Obj, new: Obj) -> None:
        for handlers in self._handlers:
            if handlers.on_update is not None:
                self._call(handlers.on_update, old, new)

    def _notify_delete(self, obj: Obj) -> None:
        for handlers in self._handlers:
            if handlers.on_delete is not None:
                self._call(handlers.on_delete, obj)

    def _call(self, handler: Callable[..., None], *args: Obj) -> None:
        try:
            handler(*args)
        except Exception:
            log.exception("informer %s: event handler %r failed", self.name, handler)

    # -- the store the reflector feeds -------------------------------------------

    def replace(self, items: builtins.list[Obj], resource_version: str) -> None:
        """Make the cache exactly ``items``; report the differences (see module docstring)."""
        old_cache = self._cache
        self._cache = {key_of(obj): obj for obj in items}
        for key, obj in self._cache.items():
            old = old_cache.get(key)
            if old is None:
                self._notify_add(obj)
            elif not _same_version(old, obj):
                self._notify_update(old, obj)
        for key, old in old_cache.items():
            if key not in self._cache:
                self._notify_delete(old)
        self._synced.set()

    def add(self, obj: Obj) -> None:
        """A watch ADDED event."""
        self._upsert(obj)

    def update(self, obj: Obj) -> None:
        """A watch MODIFIED event."""
        self._upsert(obj)

    def delete(self, obj: Obj) -> None:
        """A watch DELETED event; dropped if the object is not cached."""
        if self._cache.pop(key_of(obj), None) is not None:
            self._notify_delete(obj)

    def resync(self) -> None:
        """Replay every cached object to ``on_update(obj, obj)``; no API calls."""
        for obj in builtins.list(self._cache.values()):
            self._notify_update(obj, obj)

    def _upsert(self, obj: Obj) -> None:
        key = key_of(obj)
        old = self._cache.get(key)
        self._cache[key] = obj
        if old is None:
            self._notify_add(obj)
        elif not _same_version(old, obj):
            self._notify_update(old, obj)

    # -- reading -----------------------------------------------------------------

    def get(self, key: ObjectKey) -> Obj | None:
        """The cached object with this key, or ``None``. Do not modify it."""
        return self._cache.get(key)

    def list_keys(self) -> builtins.list[ObjectKey]:
        """The keys of every cached object."""
        return builtins.list(self._cache)

    def __len__(self) -> int:
        return len(self._cache)

    def __repr__(self) -> str:
        return f"<Informer {self.name} objects={len(self._cache)} synced={self.has_synced()}>"

    def list(self) -> builtins.list[Obj]:
        """Every cached object. Do not modify them."""
        return builtins.list(self._cache.values())


def _same_version(old: Obj, new: Obj) -> bool:
    """Whether two states of an object are the same change (equal, non-empty RVs)."""
    version = resource_version_of(new)
    return bool(version) and version == resource_version_of(old)
