"""Micro-batching for asyncio code: many coroutines submit a few items each; the batcher runs them in
batches (one batch at a time), so a local model generates for many episodes at once and the sandbox
gets many calls per round trip. A batcher may serve one event loop after another (successive
``asyncio.run`` calls): its event and runner task are made again in each new loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    def __init__(self, fn: Callable[[list[T]], Awaitable[list[R]]], *, max_size: int = 64, max_wait_s: float = 0.005):
        self.fn = fn
        self.max_size = max(1, max_size)
        self.max_wait_s = max_wait_s
        self._pending: list[tuple[T, asyncio.Future]] = []
        self._wake: asyncio.Event | None = None
        self._runner: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, items: list[T]) -> list[R]:
        if not items:
            return []
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop: what belonged to the last one is gone with it
            self._pending, self._wake, self._runner, self._loop = [], None, None, loop
        futures = []
        for item in items:
            fut = loop.create_future()
            self._pending.append((item, fut))
            futures.append(fut)
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return list(await asyncio.gather(*futures))

    async def _run(self) -> None:
        while self._pending:
            if len(self._pending) < self.max_size and self.max_wait_s > 0:
                deadline = asyncio.get_running_loop().time() + self.max_wait_s
                while len(self._pending) < self.max_size:
                    remaining = deadline - asyncio.get_running_loop().time()
                    if remaining <= 0:
                        break
                    self._wake.clear()
                    try:
                        await asyncio.wait_for(self._wake.wait(), remaining)
                    except TimeoutError:
                        break
            batch, self._pending = self._pending[: self.max_size], self._pending[self.max_size:]
            items = [item for item, _ in batch]
            try:
                results = await self.fn(items)
                if len(results) != len(items):
                    raise RuntimeError(f"batch function returned {len(results)} results for {len(items)} items")
            except Exception as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), result in zip(batch, results):
                if not fut.done():
                    fut.set_result(result)
