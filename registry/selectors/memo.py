"""What a process builds once and keeps: SQL whose building cost more than running it, rows that
only a write changes. Every such store is bounded: past ``limit`` keys it forgets them all."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class ProcessMemo(Generic[V]):
    def __init__(self, limit: int):
        self.limit = limit
        self._values: dict[Hashable, V] = {}

    def get(self, key: Hashable) -> V | None:
        return self._values.get(key)

    def put(self, key: Hashable, value: V) -> V:
        if key not in self._values and len(self._values) >= self.limit:
            self._values.clear()
        self._values[key] = value
        return value

    def get_or_build(self, key: Hashable, build: Callable[[], V]) -> V:
        value = self._values.get(key)
        return value if value is not None else self.put(key, build())

    def clear(self) -> None:
        self._values.clear()

    def __len__(self) -> int:
        return len(self._values)
