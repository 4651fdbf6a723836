"""A small thread-safe LRU map: what a process keeps of facts that never change once written
(a function version's configuration, a finished call's wire form)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class Lru(Generic[Key, Value]):
    """At most ``size`` entries, the least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Key, Value] = OrderedDict()
        self._lock = threading.Lock()  # callers run in thread pools

    def get(self, key: Key) -> Value | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Key, value: Value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            if len(self._items) > self.size:
                self._items.popitem(last=False)

    def get_or_load(self, key: Key, load: Callable[[], Value]) -> Value:
        """The kept value, else ``load()``'s, kept (two threads may both load: the values are equal)."""
        found = self.get(key)
        if found is None:
            found = load()
            self.put(key, found)
        return found
