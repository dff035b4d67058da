"""Streaming generation with per-token routing, and `smolmoe chat` through a pipe and a pty."""
import os
import pty
import select
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner

from smolmoe.inference.chat import ChatSession, run_chat
from smolmoe.cli.main import main
from smolmoe.core.errors import ConfigError
from smolmoe.inference.generate import (ChatModel, GenerationSettings, PromptTooLong, StopMatcher,
                              StreamEvent)
from smolmoe.moe.router_outputs import forward, routing_record

from helpers.tiny_models import make_llama, make_tokenizer
from helpers.tiny_moe import EXPERTS

ASK = [{"role": "user", "content": "add 3 plus 4"}]


@pytest.fixture(scope="module")
def moe(tiny_moe):
    return ChatModel.load(tiny_moe)


def test_greedy_stream_matches_transformers_generate(moe, tiny_dir):
    for chat in (moe, ChatModel.load(tiny_dir)):
        ids = chat.encode(ASK)
        events = list(chat.stream(ASK, GenerationSettings(max_new_tokens=12)))
        assert events[-1].finish_reason == "length" and events[-1].token_id is None
        mine = [e.token_id for e in events[:-1]]
        ref = chat.model.generate(torch.tensor([ids]), max_new_tokens=12, do_sample=False,
                                  eos_token_id=None, pad_token_id=0)[0, len(ids):].tolist()
        assert mine == ref
        text = "".join(e.text for e in events)
        assert text == chat.tokenizer.decode(mine, skip_special_tokens=True)


def test_routing_per_token_matches_a_full_forward(moe):
    reply = moe.reply(ASK, GenerationSettings(max_new_tokens=10))
    ids = moe.encode(ASK)
    tokens = moe.tokenizer(reply.text, add_special_tokens=False)["input_ids"]
    assert len(reply.experts) == reply.completion_tokens == 10
    assert all(len(per_layer) == moe.num_layers for per_layer in reply.experts)
    full = torch.tensor([ids + [e for e in _ids(moe, reply)]])
    with torch.no_grad():
        rec = routing_record(forward(moe.model, full, routing=True)[1])
    n = len(ids)
    # Token i was chosen at position n-1+i: its routing is that position's top-1 per layer.
    expected = rec.top1()[:, n - 1:n - 1 + 10].T.tolist()
    assert reply.experts == expected
    assert len({e for per_layer in reply.experts for e in per_layer}) > 1  # colours differ
    assert tokens  # the reply is real text


def _ids(chat, reply):
    events = list(chat.stream(ASK, GenerationSettings(max_new_tokens=10)))
    return [e.token_id for e in events if e.token_id is not None]


def test_stop_string_cuts_the_reply_and_is_never_streamed(moe):
    full = moe.reply(ASK, GenerationSettings(max_new_tokens=16)).text
    stop = full[len(full) // 2: len(full) // 2 + 3]
    assert len(stop) == 3
    events = list(moe.stream(ASK, GenerationSettings(max_new_tokens=16, stop=[stop])))
    text = "".join(e.text for e in events)
    assert events[-1].finish_reason == "stop"
    assert text == full[:full.find(stop)] and stop not in text


def test_stop_matcher_holds_back_a_possible_stop_prefix():
    m = StopMatcher(["END"])
    out, stopped = m.push(StreamEvent("hello E", 1))
    assert out == [] and not stopped             # "E" may start "END": hold the token
    out, stopped = m.push(StreamEvent("x", 2))
    assert [e.text for e in out] == ["hello E", "x"] and not stopped
    m.push(StreamEvent("ab EN", 3))
    out, stopped = m.push(StreamEvent("D tail", 4))
    assert stopped and "".join(e.text for e in out) == "ab "


def test_seeded_sampling_is_reproducible(moe):
    s = GenerationSettings(max_new_tokens=12, temperature=1.0, top_p=0.95,
                           repetition_penalty=1.3, seed=7)
    a, b = moe.reply(ASK, s), moe.reply(ASK, s)
    s.seed = 8
    c = moe.reply(ASK, s)
    assert a.text == b.text and a.experts == b.experts
    assert c.tokens != a.tokens


def test_dense_model_has_no_routing(tiny_dir):
    chat = ChatModel.load(tiny_dir)
    assert not chat.is_moe and chat.experts is None
    assert chat.reply(ASK, GenerationSettings(max_new_tokens=4)).experts is None


def test_limits_and_bad_settings(moe):
    with pytest.raises(PromptTooLong, match="context is 512 tokens"):
        moe.encode([{"role": "user", "content": "alpha " * 600}])
    with pytest.raises(ConfigError, match="top_p"):
        GenerationSettings(top_p=0).validate()
    with pytest.raises(ConfigError, match="temperature"):
        GenerationSettings(temperature=-1).validate()
    with pytest.raises(Exception, match="role"):
        moe.encode([{"role": "robot", "content": "hi"}])


def test_thinking_budget_closes_the_thought(tmp_path):
    tok = make_tokenizer(tmp_path)
    tok.add_tokens(["<think>", "</think>"], special_tokens=True)
    make_llama(tmp_path, tok, vocab=len(tok))
    chat = ChatModel.load(tmp_path)
    assert chat.supports_thinking
    close = chat.think_ids[1]
    for budget in (0, 3):
        events = list(chat.stream(ASK, GenerationSettings(max_new_tokens=8, think=True,
                                                          thinking_budget=budget)))
        ids = [e.token_id for e in events if e.token_id is not None]
        assert close in ids[:budget + 1]


def test_session_keeps_history_trims_it_and_resets(moe):
    session = ChatSession(moe, GenerationSettings(max_new_tokens=8), system="be brief")
    list(session.ask("add 1 plus 2"))
    list(session.ask("and 3 plus 4"))
    assert [m["role"] for m in session.history] == ["user", "assistant"] * 2
    long = "alpha beta gamma " * 50   # ~150 tokens: three turns overflow the 512 context
    for _ in range(4):
        list(session.ask(long))
    assert session.dropped_turns > 0 and len(moe.encode(session.history)) < 512
    session.reset()
    assert session.history == []


def test_chat_cli_through_a_pipe(tiny_moe, tiny_dir):
    r = CliRunner().invoke(main, ["chat", str(tiny_moe), "--temperature", "0", "--max-tokens", "6"],
                           input="add 3 plus 4\n\n/reset\nwrite a story\n/quit\nnever read\n")
    assert r.exit_code == 0, r.output
    # Each answer is exactly what the library gives, one after another: the pipe adds nothing.
    chat, settings = ChatModel.load(tiny_moe), GenerationSettings(max_new_tokens=6,
                                                                   repetition_penalty=1.1)
    refs = [chat.reply([{"role": "user", "content": q}], settings).text
            for q in ("add 3 plus 4", "write a story")]
    assert r.stdout == refs[0] + "\n" + refs[1] + "\n"
    assert "\033[" not in r.stdout and ">>>" not in r.output
    routing = [l for l in r.stderr.splitlines() if l.startswith("experts: ")]
    assert len(routing) == 2 and all(any(n in l for n in EXPERTS) for l in routing)
    assert "(conversation reset)" in r.stderr
    dense = CliRunner().invoke(main, ["chat", str(tiny_dir), "--max-tokens", "4", "--seed", "1"],
                               input="hello\n")
    assert dense.exit_code == 0 and "experts:" not in dense.stderr
    too_long = CliRunner().invoke(main, ["chat", str(tiny_dir)], input="alpha " * 600 + "\n")
    assert too_long.exit_code == 1 and "context is 512 tokens" in too_long.stderr
    bad = CliRunner().invoke(main, ["chat", str(tiny_dir / "nope")], input="hi\n")
    assert bad.exit_code == 1 and bad.output.strip().count("\n") == 0


def _read_until(fd, needle: bytes, seconds: float) -> bytes:
    buf, deadline = b"", time.monotonic() + seconds
    while needle not in buf and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                buf += os.read(fd, 4096)
            except OSError:
                break
    return buf


def test_chat_interactively_in_a_terminal(tiny_moe):
    """A real pty: prompt shown, tokens coloured by expert, routing line, /reset, Ctrl-D."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "smolmoe.cli", "chat", str(tiny_moe),
                             "--max-tokens", "6", "--temperature", "0"],
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    try:
        banner = _read_until(master, b">>> ", 60)
        assert b"MoE of math, code, story" in banner and b">>> " in banner
        assert b"loading " in banner and b"token colours" in banner   # status, then the legend
        os.write(master, b"add 3 plus 4\r")
        reply = _read_until(master, b"tokens/s)", 30)
        assert b"\033[3" in reply or b"\033[9" in reply   # ANSI colour per expert
        assert b"experts: " in reply and b"6 tokens in " in reply
        os.write(master, b"/reset\r")
        after = _read_until(master, b"reset)", 10)
        assert b"(conversation reset)" in after
        # Wait for the next prompt: readline may discard keys typed before it takes the terminal.
        if b">>> " not in after.split(b"reset)", 1)[1]:
            _read_until(master, b">>> ", 10)
        os.write(master, b"\x04")   # Ctrl-D at the prompt ends the chat
        assert proc.wait(timeout=20) == 0
        assert _read_until(master, b"\n", 5).endswith(b"\n")   # the shell's prompt starts clean
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


@pytest.mark.parametrize("key", [KeyboardInterrupt, EOFError])
def test_ctrl_c_or_d_at_an_empty_prompt_ends_the_line(monkeypatch, capsys, key):
    from smolmoe.inference.chat import terminal_lines
    typed = iter(["hello"])

    def fake_input(_prompt):
        try:
            return next(typed)
        except StopIteration:
            raise key from None
    monkeypatch.setattr("builtins.input", fake_input)
    assert list(terminal_lines()) == ["hello"]
    assert capsys.readouterr().err == "\n"   # the shell's prompt starts on a new line


def test_chat_legend_names_every_expert_in_its_colour():
    from smolmoe.inference.chat import legend, speed_line
    from smolmoe.core.palette import ansi_colour
    text = legend(["coder", "writer", "guardian"])
    for i, name in enumerate(["coder", "writer", "guardian"]):
        assert f"{ansi_colour(i)}{name}\033[0m" in text
    assert len({ansi_colour(i) for i in range(8)}) == 8
    assert speed_line(30, 2.0) == "30 tokens in 2.0 s (15.0 tokens/s)"
