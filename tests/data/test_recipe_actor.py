"""The actor recipe on tiny in-memory archives: cleaning chats, phrasing SocialIQa answers,
generated bookings and characters that keep to their instructions, the held-out source."""
from __future__ import annotations

import json
from pathlib import Path

from smolmoe.data import recipes as data_recipes
from smolmoe.data.recipes import actor
from smolmoe.data.recipes import MixRules
from smolmoe.data.recipes.sources import SourceUnavailable
from helpers.fake_fetch import FakeFetch

ANY_MIX = MixRules(min_sources=1, min_share=0.0, max_share=1.0)


def _turn(sender: str, *texts: str) -> list[dict]:
    return [{"text": t, "timestamp": "2018-05-02T19:38:15Z", "sender": sender} for t in texts]


def _chat(i: int, bad: bool = False) -> dict:
    a, b = f"a{i}", f"b{i}"
    return {"messages": [_turn(a, "hello", f"how r u doing today {i}"),
                         _turn(b, "im doing good", "thanks for asking"),
                         _turn(a, "shit that is great" if bad else f"thats great, i love topic {i}"),
                         _turn(b, "me too. what do u do for fun")], "ratings": {}, "prompt": ""}


def _siqa(context: str, question: str, options: list[str], ideal: str) -> str:
    text = f"{context} {question} A: {options[0]}; B: {options[1]}; C: {options[2]}."
    return json.dumps({"input": [{"role": "user", "content": text}], "ideal": ideal})


def fake_files(tmp_path) -> dict:
    chats = {f"c{i:03d}": _chat(i, bad=(i == 0)) for i in range(40)}
    siqa = [_siqa(f"Casey gave Bailey a present number {i}.", "How would Bailey feel afterwards?",
                  ["grateful", "angry", "bored"], "A") for i in range(30)]
    siqa += [_siqa("bailey was a nice person so she called the family together.",
                   "What will happen to Others?", ["talk to the family", "hate bailey",
                                                   "thank bailey"], "C"),
             _siqa("Jesse bought a new car.", "What did Jesse do?",
                   ["nervous", "bought a new car", "sold it"], "B")]  # a rare kind: dropped
    yml = "categories:\n- greetings\nconversations:\n" + "".join(
        f"- - Hello number {i}\n  - Hi there, friend {i}!\n" for i in range(50))
    return {
        ("chitchat-dataset", actor.CHITCHAT_FILE): json.dumps(chats),
        ("evals", actor.SOCIALIQA_FILE): "\n".join(siqa) + "\n",
        ("chatterbot-corpus", "chatterbot_corpus/data/english/greetings.yml"): yml,
    }


def _read(out: Path, split: str) -> list[dict]:
    return [json.loads(line) for line in (out / "actor" / f"{split}.jsonl").read_text().splitlines()]


def test_actor_builds_and_holds_out_chatterbot(tmp_path):
    out = tmp_path / "d"
    data_recipes.build(out, domains=["actor"], fetch=FakeFetch(fake_files(tmp_path)),
                       mix=ANY_MIX, max_eval=20)
    meta = json.loads((out / "actor" / "meta.json").read_text())
    assert set(meta["per_source"]["train"]) == {"chitchat", "booking", "character", "socialiqa"}
    assert {r["source"] for r in _read(out, "foreign")} == {"chatterbot/english"}
    assert meta["stats"]["dropped"]["offensive"] == 1
    assert meta["stats"]["dropped"]["question_kind_not_phrased"] == 1
    bench = {s["name"] for s in meta["sources"] if s["benchmark"]}
    assert bench == {"socialiqa"}


def test_losing_a_pinned_package_leaves_two_generated_sources(tmp_path):
    for package in ("chitchat-dataset", "evals"):
        fetch = FakeFetch(fake_files(tmp_path), unavailable={package})
        try:
            list(actor.read_chitchat(fetch)) if package == "chitchat-dataset" else list(actor.read_socialiqa(fetch))
        except SourceUnavailable:
            pass
        else:
            raise AssertionError("the fake should raise")
    gens = [s for s in actor.SOURCES if s.package == "generator"]
    assert len(gens) == 2  # whatever pinned package is lost, >= 2 training sources remain


def test_chat_messages_are_cleaned_into_sentences():
    assert actor.tidy_message("im doing good") == "I'm doing good."
    assert actor.tidy_message("how r u doing today") == "How are you doing today."
    assert actor.tidy_message("wow!!!! thats cool. i agree") == "Wow! That's cool. I agree."


def test_socialiqa_answers_are_sentences():
    assert actor.socialiqa_answer("How would Alex feel afterwards?", "grateful") == \
        "Alex would probably feel grateful."
    assert actor.socialiqa_answer("What will happen to Others?", "thank Bailey") == \
        "The others will probably thank Bailey."
    assert actor.socialiqa_answer("Why did Kai do this?", "wanted to travel") == \
        "Kai did this because they wanted to travel."
    assert actor.socialiqa_answer("What does Lee need to do before this?", "needed to rock Addison") == \
        "Before this, Lee needed to rock Addison."
    assert actor.socialiqa_answer("What did Jesse do?", "bought a new car") is None
    rows = list(actor.read_socialiqa(FakeFetch(fake_files(Path(".")))))
    bailey = [r for r in rows if "messages" in r and "family" in r["messages"][0]["content"]][0]
    assert bailey["messages"][0]["content"].startswith("Bailey was")
    assert bailey["messages"][1]["content"] == "The others will probably thank Bailey."


def test_bookings_keep_to_opening_hours_and_repeat_the_slots():
    for k in range(200):
        ex = actor._booking(k)
        system, turns = ex["messages"][0]["content"], [m["content"] for m in ex["messages"][1:]]
        place = next(p for p in actor._PLACES if p[1] in system)
        final = turns[-1]
        hour = next(h for h in range(24) if f" at {actor._clock(h)} " in final)
        assert place[4] <= hour < place[5], (k, final)
        name = turns[-2].replace("It's ", "").replace("Under ", "").replace(", please", "").rstrip(".")
        assert final.startswith(f"Thank you, {name}.")


def test_characters_answer_from_their_role_sheet():
    for k in range(100):
        ex = actor._character(k)
        system = ex["messages"][0]["content"]
        for ask, say in zip(ex["messages"][1::2], ex["messages"][2::2]):
            assert ask["role"] == "user" and say["role"] == "assistant"
            if say["content"].startswith("I'm ") and "Pleased" in say["content"]:
                assert say["content"][4:].split(".")[0] in system
            if "favourite is" in say["content"]:
                assert say["content"].split("favourite is ")[1].split(".")[0] in system
