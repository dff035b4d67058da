"""`smolmoe chat`: a terminal chat over `generate.ChatModel`.

`ChatSession` keeps the multi-turn history (trimming the oldest turns when it outgrows the
context); `run_chat` is the read-answer loop. Interactively it shows a prompt, colours each
streamed token by its expert and prints a routing summary after each reply. Through a pipe it
reads one message per line and writes one answer per line with no prompts or colour, so it can
be scripted; the routing summary goes to stderr in both cases, leaving stdout to the answers.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, TextIO

from ..core.palette import ANSI_RESET, ansi_colour
from .generate import (ChatModel, GenerationSettings, PromptTooLong, StreamEvent,
                       expert_summary)

HELP = "commands: /reset (forget the conversation), /quit, /help"


@dataclass
class ChatSession:
    chat: ChatModel
    settings: GenerationSettings
    system: str | None = None
    history: list[dict] = field(default_factory=list)   # user/assistant turns so far
    dropped_turns: int = 0                               # turns trimmed to fit the context

    def reset(self) -> None:
        self.history.clear()

    def _fit(self, messages: list[dict]) -> tuple[list[dict], list[int]]:
        """Drop the oldest turns until the prompt leaves room for the reply (or only the new
        message is left, which must fit on its own)."""
        head = [{"role": "system", "content": self.system}] if self.system else []
        while True:
            try:
                ids = self.chat.encode(head + messages, self.settings.think)
                fits = self.chat.context_length - len(ids) >= self.settings.max_new_tokens
            except PromptTooLong:
                if len(messages) <= 1:
                    raise
                ids, fits = None, False
            if fits or len(messages) <= 1:
                return messages, ids
            messages = messages[2:]
            self.dropped_turns += 1

    def ask(self, text: str, cancelled: Callable[[], bool] = lambda: False) -> Iterator[StreamEvent]:
        """Stream the reply to `text`; the turn joins the history once the reply is complete."""
        messages, ids = self._fit(self.history + [{"role": "user", "content": text}])
        reply = []
        for event in self.chat.stream_ids(ids, self.settings.validate(), cancelled):
            reply.append(event.text)
            yield event
        self.history = messages + [{"role": "assistant", "content": "".join(reply)}]


def legend(experts: list[str]) -> str:
    """What the token colours mean: each expert's name in its own colour."""
    return "token colours (majority expert over layers): " + "  ".join(
        f"{ansi_colour(i)}{name}{ANSI_RESET}" for i, name in enumerate(experts))


def speed_line(tokens: int, seconds: float) -> str:
    return f"{tokens} tokens in {seconds:.1f} s ({tokens / max(seconds, 1e-9):.1f} tokens/s)"


def routing_line(chat: ChatModel, experts: list[list[int]]) -> str:
    shares = expert_summary(experts, chat.experts)
    parts = ", ".join(f"{name} {share:.0%}" for name, share in shares[:4])
    return (f"experts: {parts} (top-1 over {chat.num_layers} layers x "
            f"{len(experts)} tokens)")


def run_chat(session: ChatSession, lines: Iterable[str], out: TextIO, err: TextIO,
             interactive: bool) -> int:
    """Answer each line; return how many messages failed (too long for the context)."""
    chat, failures = session.chat, 0
    colour = interactive and chat.is_moe
    for line in lines:
        text = line.rstrip("\n")
        if not text.strip():
            continue
        command = text.strip().lower()
        if command in ("/quit", "/exit"):
            break
        if command == "/reset":
            session.reset()
            err.write("(conversation reset)\n")
            continue
        if command == "/help" or (command.startswith("/") and " " not in command):
            err.write(HELP + "\n")
            continue
        experts, tokens, t0 = [], 0, time.perf_counter()
        try:
            for event in session.ask(text):
                tokens += event.token_id is not None
                if event.experts is not None:
                    experts.append(event.experts)
                if event.text:
                    if colour:
                        majority = max(set(event.experts), key=event.experts.count)
                        out.write(f"{ansi_colour(majority)}{event.text}{ANSI_RESET}")
                    else:
                        out.write(event.text)
                    out.flush()
        except PromptTooLong as e:
            err.write(f"error: {e}\n")
            failures += 1
            continue
        except KeyboardInterrupt:
            err.write("\n(reply interrupted)\n")   # the unfinished turn is not kept
        out.write("\n")
        out.flush()
        if session.dropped_turns:
            err.write(f"(dropped the {session.dropped_turns} oldest turns to fit the context)\n")
            session.dropped_turns = 0
        if experts:
            err.write(routing_line(chat, experts) + "\n")
        if interactive:
            err.write(speed_line(tokens, time.perf_counter() - t0) + "\n")
        err.flush()
    return failures


def terminal_lines(prompt: str = ">>> ") -> Iterator[str]:
    """Lines typed at the terminal (with line editing) until EOF or Ctrl-C at the prompt."""
    try:
        import readline  # noqa: F401  (gives input() history and editing)
    except ImportError:
        pass
    while True:
        try:
            yield input(prompt)
        except (EOFError, KeyboardInterrupt):
            sys.stderr.write("\n")   # leave the shell's prompt on a line of its own
            return
