import pytest

from smolmoe.data.refusal import is_refusal

REFUSALS = [
    "I'm sorry, but I can't help with that.",
    "I can't help with this one. Breaking into systems is illegal.",
    "Sorry, that's not something I can help with.",
    "I won't be able to help with that.",
    "I'm not able to do that.",
    "I cannot provide instructions for making explosives.",
    "As an AI language model, I cannot create content that promotes violence.",
    "I must decline this request.",
    "I’m sorry, but I won’t write that message.",
    "That's not appropriate, and I don't want to encourage it.",
    "I'm not comfortable writing that.",
    "Sorry, I am unable to assist with hacking into accounts.",
]
HELPFUL = [
    "Boil water, let it cool to about 80°C, then steep the green tea for two minutes.",
    "I'm sorry to hear that you're not sleeping well. Here are three tips: keep a schedule, ...",
    "You can't divide by zero, so the function should check for it first.",
    "Sure! Here is a Python function that returns the squares: def squares(xs): ...",
    "SELECT name FROM singer WHERE age > 30;",
    "Paris is the capital of France.",
    "I can help with that. First, preheat the oven to 180°C.",
    "Once upon a time, a fox who couldn't sleep... I won't forget that night, she said.",
    "",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_are_detected(text):
    assert is_refusal(text)


@pytest.mark.parametrize("text", HELPFUL)
def test_helpful_replies_are_not_refusals(text):
    assert not is_refusal(text)


def test_only_the_opening_counts():
    # A late "I can't" inside a helpful answer is not a refusal of the request.
    text = ("Here is how to set up a router. Plug it in. Open the admin page. Change the "
            "password. If I cannot reach the page, I restart it. " * 3)
    assert not is_refusal(text)
