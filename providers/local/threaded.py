"""Blocking in-process runtimes bridged to asyncio: a worker-thread stream and a shared
model cache.

:func:`stream_from_thread` runs a blocking producer (the ``transformers`` provider's
``generate``) in its own thread and hands its items to an async iterator. Closing or
cancelling that iterator (the engine's Stop or timeout) sets the sink's stop flag; the
producer's next :meth:`ThreadSink.emit` raises :class:`Stopped`, so a loop that emits
once per token ends within one token. Why a thread is enough for torch and not for
onnxruntime-genai: :mod:`providers.local.onnx_worker`'s docstring; why items go in
batches: :mod:`providers.local.pacing`.

:class:`ModelCache` keeps at most N loaded models per process, loads each once even when
several sessions ask at the same time, and never evicts a model while a lease on it
(a running generation) is held.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from providers.local.pacing import HAND_OVER_EVERY_S, Pacer

T = TypeVar("T")
M = TypeVar("M")

_ITEM, _ERROR, _DONE = range(3)


class Stopped(Exception):
    """Raised inside the producer thread by :meth:`ThreadSink.emit` once the consumer
    has gone (stopped, timed out or closed the stream)."""


class ThreadSink(Generic[T]):
    """What a producer running in the worker thread talks to.

    Items are handed over in batches: the first item at once, then at most every
    ``max_lag_s`` seconds (every item, for producers slower than that), and each hand-over
    waits, without the GIL, until the event loop has taken the batch, so a producer never
    runs far ahead of the event loop. Why this throttle: :mod:`providers.local.pacing`.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 max_lag_s: float = HAND_OVER_EVERY_S) -> None:
        self._loop = loop
        self._pacer = Pacer(max_lag_s)
        self._turn = threading.Condition()
        self._items: deque[tuple[int, object]] = deque()
        self._waiter: asyncio.Future[None] | None = None  # the consumer, waiting
        self.stop_event = threading.Event()

    @property
    def stopped(self) -> bool:
        """True once the consumer asked the producer to stop."""
        return self.stop_event.is_set()

    def emit(self, item: T) -> None:
        """Hand one item to the consumer; raise :class:`Stopped` if it is gone."""
        if self.stop_event.is_set():
            raise Stopped
        self._put(_ITEM, item)
        if self.stop_event.is_set():
            raise Stopped

    def _put(self, kind: int, value: object) -> None:
        with self._turn:
            self._items.append((kind, value))
            if kind == _ITEM and not self._pacer.due():
                return  # goes with the next hand-over
            self._pacer.went()
            waiter, self._waiter = self._waiter, None
            if waiter is not None:
                try:
                    self._loop.call_soon_threadsafe(_resolve, waiter)
                except RuntimeError:  # the event loop is closed: nobody will read this
                    self.stop_event.set()
            while self._items and kind == _ITEM and not self.stop_event.is_set():
                if self._loop.is_closed():  # the consumer went away without a stop()
                    self.stop_event.set()
                    break
                self._turn.wait(0.1)

    def take(self) -> list[tuple[int, object]] | asyncio.Future[None]:
        """Everything handed over so far, or a future to await when nothing is."""
        with self._turn:
            if self._items:
                batch = list(self._items)
                self._items.clear()
                self._turn.notify_all()
                return batch
            self._waiter = self._loop.create_future()
            return self._waiter

    def stop(self) -> None:
        """The consumer is gone: the producer's next (or waiting) ``emit`` raises."""
        with self._turn:
            self.stop_event.set()
            self._turn.notify_all()


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def stream_from_thread(produce: Callable[[ThreadSink[T]], None], *,
                             name: str = "generate",
                             max_lag_s: float = HAND_OVER_EVERY_S) -> AsyncIterator[T]:
    """Run ``produce(sink)`` in a new thread; yield every item it emits, in order.

    An exception raised by ``produce`` is re-raised here after the items emitted before
    it. Closing this iterator early stops the producer at its next ``emit`` without
    waiting for it (a long prefill cannot be interrupted and must not hold up a Stop);
    the thread then ends on its own. A caller that re-yields these items from its own
    async generator must close this one explicitly (``contextlib.aclosing``): an inner
    async generator is otherwise only closed when garbage collected.
    """
    sink: ThreadSink[T] = ThreadSink(asyncio.get_running_loop(), max_lag_s)

    def work() -> None:
        try:
            produce(sink)
        except Stopped:
            return
        except BaseException as exc:  # handed to the consumer, raised there
            sink._put(_ERROR, exc)
        else:
            sink._put(_DONE, None)

    # Not a daemon: at interpreter exit the in-flight token finishes instead of the
    # runtime being torn down under a running thread.
    threading.Thread(target=work, name=f"{name}-worker").start()
    try:
        while True:
            batch = sink.take()
            if isinstance(batch, asyncio.Future):
                await batch
                continue
            for kind, value in batch:
                if kind == _ITEM:
                    yield value  # type: ignore[misc]
                elif kind == _ERROR:
                    raise value  # type: ignore[misc]
                else:
                    return
    finally:
        sink.stop()


@dataclass
class _Entry(Generic[M]):
    value: M
    load_ms: float
    leases: int = 0


class ModelCache(Generic[M]):
    """Loaded models shared by every session of the process, least recently used first
    out, at most ``max_loaded`` of them unless more are in use at the same moment.

    Thread-safe: :meth:`load` runs in worker threads; concurrent loads of the same key
    wait for the first one instead of loading twice. ``on_evict`` is called (outside the
    cache's lock) with every model the cache lets go, to free what it holds (the ``onnx``
    provider stops the model's worker process there).
    """

    def __init__(self, on_evict: Callable[[M], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry[M]] = OrderedDict()
        self._loading: dict[str, Future[_Entry[M]]] = {}
        self._on_evict = on_evict

    def load(self, key: str, loader: Callable[[], M], max_loaded: int) -> tuple[M, float | None]:
        """The model for ``key``, loading it with ``loader`` if needed (blocking).

        Returns the model and the load time in ms if this call loaded it, else None.
        """
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry.value, None
            pending = self._loading.get(key)
            owner = pending is None
            if owner:
                pending = self._loading[key] = Future()
        assert pending is not None
        if not owner:
            return pending.result().value, None
        try:
            started = time.perf_counter()
            entry = _Entry(loader(), (time.perf_counter() - started) * 1000.0)
        except BaseException as exc:
            with self._lock:
                del self._loading[key]
            pending.set_exception(exc)
            raise
        with self._lock:
            del self._loading[key]
            self._entries[key] = entry
            evicted = self._evict(max_loaded, keep=key)
        pending.set_result(entry)
        self._let_go(evicted)
        return entry.value, entry.load_ms

    def acquire(self, key: str, loader: Callable[[], M],
                max_loaded: int) -> tuple[M, float | None]:
        """Take a lease on ``key``'s model, loading it if needed (blocking): it is not
        evicted before :meth:`release`. Returns the model and the load time in ms if
        this call had to load it, else None."""
        load_ms: float | None = None
        while (value := self.acquire_loaded(key)) is None:
            # Not loaded (or evicted since prepare()): load, then take the lease.
            _, took = self.load(key, loader, max_loaded)
            load_ms = took if took is not None else load_ms
        return value, load_ms

    def acquire_loaded(self, key: str) -> M | None:
        """A lease on ``key``'s model if it is loaded, else None; never blocks."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            entry.leases += 1
            self._entries.move_to_end(key)
            return entry.value

    def release(self, key: str, value: M, max_loaded: int) -> None:
        """End a lease from :meth:`acquire`; models beyond ``max_loaded`` may go now."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.value is value:  # not discarded meanwhile
                entry.leases -= 1
            evicted = self._evict(max_loaded)
        self._let_go(evicted)

    @contextmanager
    def lease(self, key: str, loader: Callable[[], M],
              max_loaded: int) -> Iterator[tuple[M, float | None]]:
        """:meth:`acquire` and :meth:`release` around a block (blocking)."""
        value, load_ms = self.acquire(key, loader, max_loaded)
        try:
            yield value, load_ms
        finally:
            self.release(key, value, max_loaded)

    def discard(self, key: str, value: M) -> None:
        """Forget ``key``'s model if it is ``value``, leases or not (it broke: the next
        request loads it again). ``on_evict`` is not called: the caller cleans up."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.value is value:
                del self._entries[key]

    def loaded(self) -> list[str]:
        """Keys of the loaded models, least recently used first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every model not in use (tests; freeing memory)."""
        with self._lock:
            evicted = self._evict(0)
        self._let_go(evicted)

    def close(self) -> list[M]:
        """Let every model go, even those in use (shutting down); returns them."""
        with self._lock:
            evicted = [entry.value for entry in self._entries.values()]
            self._entries.clear()
        self._let_go(evicted)
        return evicted

    def _evict(self, max_loaded: int, keep: str | None = None) -> list[M]:
        # Caller holds the lock. Models in use stay, even beyond the limit, and go once
        # their last lease is released; ``keep`` (just loaded) is never the one to go.
        evicted = []
        for key in list(self._entries):
            if len(self._entries) <= max(max_loaded, 0):
                break
            if key != keep and self._entries[key].leases == 0:
                evicted.append(self._entries.pop(key).value)
        return evicted

    def _let_go(self, evicted: list[M]) -> None:
        if self._on_evict is not None:
            for value in evicted:
                self._on_evict(value)
