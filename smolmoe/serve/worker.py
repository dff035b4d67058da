"""Generation off the event loop: one thread steps the engine's continuous batch.

Decoding one token is bound by memory bandwidth on a CPU, so one forward for several
requests costs little more than for one. The worker thread keeps stepping the engine
(engine.py) while any request is running: a request that arrives joins the batch at the next
step, up to `slots` at once, and waits in the engine's queue beyond that. Each request has its
own asyncio queue of events, so streams never mix; its routing, sampling settings and stops
are its own. A client that goes away cancels its sequence, which leaves the batch (freeing its
slot) at the next step. `shutdown` ends every request at once with `ServerShutdown`, which
the app reports to each client (SIGTERM: serve() calls it before uvicorn waits for them).
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from typing import AsyncIterator

from ..core.config import ServerLimits
from ..inference.generate import ChatModel, GenerationSettings, StreamEvent, TextStream

_DONE = object()


class ServerShutdown(Exception):
    """The server is stopping: the request ends unfinished."""


class GenerationWorker:
    def __init__(self, chat: ChatModel, max_waiting: int = ServerLimits.max_waiting,
                 slots: int = ServerLimits.slots):
        self.chat = chat
        self.max_waiting = max_waiting
        self.slots = slots
        # Requests streaming or queued (touched on the event loop only). The app refuses new
        # ones past max_waiting; a soft bound, since a request counts once its stream starts.
        self.waiting = 0
        self.engine = chat.engine(slots)
        self.finished: Counter = Counter()      # requests ended, by engine finish reason
        self._inbox: list[tuple] = []           # (prompt, settings, cancel, put) not yet added
        self._streams: dict = {}                # sequence -> (TextStream, put): worker thread
        self._wake = threading.Condition()
        self._closed = False
        self._shutdown: str | None = None       # why every request is being ended
        self._thread = threading.Thread(target=self._loop, name="smolmoe-generate", daemon=True)
        self._thread.start()

    @property
    def running(self) -> int:
        """Sequences decoding now (read from another thread: a snapshot)."""
        return sum(s.finish is None for s in self.engine.running)

    async def events(self, prompt_ids: list[int],
                     settings: GenerationSettings) -> AsyncIterator[StreamEvent]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()

        def put(item) -> None:
            with contextlib.suppress(RuntimeError):   # the loop closed: nobody is listening
                loop.call_soon_threadsafe(queue.put_nowait, item)

        self.waiting += 1
        try:
            with self._wake:
                if self._closed:
                    raise ServerShutdown(self._shutdown or "the server is shutting down")
                self._inbox.append((prompt_ids, settings, cancel.is_set, put))
                self._wake.notify()
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            cancel.set()
            self.waiting -= 1

    def _loop(self) -> None:
        streams = self._streams
        while True:
            with self._wake:
                while not self._closed and not self._inbox and not self.engine.busy:
                    self._wake.wait()
                if self._closed:
                    self._end_all([put for *_, put in self._inbox])
                    return
                arrived, self._inbox = self._inbox, []
            for prompt, settings, cancelled, put in arrived:
                try:
                    seq = self.engine.add(prompt, settings, routing=self.chat.is_moe,
                                          cancelled=cancelled)
                except Exception as e:   # surfaced to the request that caused it
                    put(e)
                    put(_DONE)
                    continue
                streams[seq] = (TextStream(self.chat.tokenizer, settings.stop), put)
            try:
                with self.chat.lock:
                    stepped = self.engine.step()
            except Exception as e:   # a failed forward fails every request in the batch
                for _stream, put in streams.values():
                    put(e)
                    put(_DONE)
                streams.clear()
                self.engine = self.chat.engine(self.slots)
                continue
            for seq, token in stepped:
                stream, put = streams[seq]
                for event in stream.push(seq, token):
                    put(event)
                if seq.finish is not None:
                    self.finished[seq.finish] += 1
                    put(_DONE)
                    del streams[seq]

    def _end_all(self, queued: list) -> None:
        """Tell every request (decoding, or queued but not yet added) that the server stops."""
        error = ServerShutdown(self._shutdown or "the server is shutting down")
        for put in [put for _stream, put in self._streams.values()] + queued:
            put(error)
            put(_DONE)
        self._streams.clear()

    def shutdown(self, reason: str = "the server is shutting down") -> None:
        """End every request now (each gets ServerShutdown) and refuse new ones; the worker
        thread stops after the step it is in, if any."""
        with self._wake:
            self._shutdown = self._shutdown or reason
            self._closed = True
            self._wake.notify()

    def close(self) -> None:
        self.shutdown()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker thread to stop; whether it did."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
