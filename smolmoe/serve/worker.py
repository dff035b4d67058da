"""Generation off the event loop: one worker thread, one queue of events per request.

A CPU runs one forward pass well at a time, so requests are served first come, first served
by a single worker thread; each request gets its own asyncio queue, so streams never mix, and
each generation installs its own routing hooks (inside `ChatModel.stream_ids`). A client that
goes away cancels its generation at the next token.
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import AsyncIterator

from ..generate import ChatModel, GenerationSettings, StreamEvent

_DONE = object()


class GenerationWorker:
    def __init__(self, chat: ChatModel, max_waiting: int = 64):
        self.chat = chat
        self.max_waiting = max_waiting
        # Requests streaming or queued (touched on the event loop only). The app refuses new
        # ones past max_waiting; a soft bound, since a request counts once its stream starts.
        self.waiting = 0
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smolmoe-generate")

    async def events(self, prompt_ids: list[int],
                     settings: GenerationSettings) -> AsyncIterator[StreamEvent]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()

        def put(item) -> None:
            with contextlib.suppress(RuntimeError):   # the loop closed: nobody is listening
                loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                if cancel.is_set():
                    return
                with contextlib.closing(self.chat.stream_ids(prompt_ids, settings,
                                                             cancel.is_set)) as stream:
                    for event in stream:
                        put(event)
            except Exception as e:  # surfaced to the request that caused it
                put(e)
            finally:
                put(_DONE)

        self.waiting += 1
        try:
            self.pool.submit(work)
            while (item := await queue.get()) is not _DONE:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            cancel.set()
            self.waiting -= 1

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
