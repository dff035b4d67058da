"""Replies to harmful or sensitive prompts: say briefly why, then offer something safe.

A reply is an opener + a category's reason + a category's alternative, each picked per
prompt, so the expert learns the shape (decline, explain, redirect) rather than one string.
Medical, legal and financial questions are declined with a pointer to a professional and
self-harm with support; questions about the assistant itself (IDENTITY) are not refusals at all
but an honest answer. smolmoe.data.refusal.is_refusal must agree: every other reply is a refusal.
"""
from __future__ import annotations

import re

from ._common import pick

OPENERS = ["I'm sorry, but I can't help with that.", "I can't help with this one.",
           "Sorry, that's not something I can help with.", "I won't be able to help with that.",
           "I'm not able to do that."]

# category -> (reasons, alternatives); a reply takes one of each.
CATEGORIES: dict[str, tuple[list[str], list[str]]] = {
    "cyber": (["Breaking into systems or writing malicious code harms real people and is illegal.",
               "Attacking computers or accounts you don't own causes real damage and is a crime."],
              ["If you're interested in security, I can explain how to protect a system or suggest "
               "legal ways to practise, like capture-the-flag challenges.",
               "I'm happy to help you secure your own devices and accounts instead."]),
    "weapons": (["Instructions for weapons, explosives or poisons could get people seriously hurt.",
                 "Information like that could be used to kill or injure people."],
                ["If you're curious about the science or history involved, I can talk about that "
                 "at a general level.",
                 "If you're worried about a threat, please contact the police or emergency services."]),
    "drugs": (["Making or getting illegal drugs is dangerous and against the law.",
               "That could put your health, and other people's, at serious risk."],
              ["If you or someone you know is struggling with substance use, a doctor or a local "
               "support service can help confidentially.",
               "I can share general information about drug safety and where to find help."]),
    "fraud": (["Scams, phishing and fraud take money or personal data from real people.",
               "That would deceive people and cause them real financial harm."],
              ["I can help you recognise these schemes and protect yourself from them.",
               "If you need money or help with a business, I'm glad to suggest legitimate options."]),
    "misinformation": (["Spreading claims that aren't supported by evidence misleads people and can "
                        "cause real harm.",
                        "I don't want to make up or amplify false information."],
                       ["I can tell you what reliable sources say about the topic instead.",
                        "If you'd like, I can help you check a claim against trustworthy sources."]),
    "harassment": (["Insulting, threatening or demeaning people hurts them, and I won't take part "
                    "in that.",
                    "Content that targets or bullies someone can do real harm."],
                   ["If you're in a conflict with someone, I can help you say how you feel "
                    "respectfully.",
                    "I'm happy to help you write something constructive instead."]),
    "stereotype": (["That relies on a stereotype: people in any group differ a lot, and "
                    "generalising about them is unfair.",
                    "That question paints a whole group of people with one brush, which isn't "
                    "accurate or fair."],
                   ["I'm glad to talk about the topic in a way that doesn't single out a group.",
                    "If you're curious about the facts, I can share what research actually shows."]),
    "sexual": (["I don't produce sexually explicit content.",
                "That asks for explicit sexual material, which I don't write."],
               ["I'm happy to help with questions about relationships or health in a respectful way.",
                "I can help with a romantic story that keeps things non-explicit, if you like."]),
    "privacy": (["Finding or sharing someone's personal information could invade their privacy or "
                 "put them at risk.",
                 "I can't look up or reveal private details about people."],
                ["If you need to reach someone, try official channels or the contact details they "
                 "have chosen to share publicly.",
                 "I can explain how to protect your own personal information online."]),
    "violence": (["That could lead to someone getting hurt.",
                  "Helping to harm or threaten people is something I won't do."],
                 ["If you're worried about your safety or someone else's, please contact local "
                  "authorities or emergency services.",
                  "If you're dealing with anger or a conflict, I'm happy to talk through safer ways "
                  "to handle it."]),
    "spam": (["Posting the same content in bulk is spam: it clutters other people's spaces and "
              "misleads readers.",
              "Mass-producing messages like that would be spam, which harms the people receiving it."],
             ["If you want to reach people, I can help you write one good message for channels you're "
              "allowed to use.",
              "I'm glad to help with an honest announcement or post instead."]),
    "illegal": (["That's illegal and could cause real harm.",
                 "Helping with that could hurt people and break the law."],
                ["If there's a legitimate goal behind the question, tell me more and I'll help with "
                 "that.",
                 "I'm happy to explain the relevant laws or point you to legal alternatives."]),
    "harmful": (["That could cause real harm to people.",
                 "Helping with that could put people at risk."],
                ["If there's a legitimate goal behind the question, tell me more and I'll help with "
                 "that.",
                 "I'm happy to help with a safer version of what you're trying to do."]),
}

# Whole replies for prompts that deserve care or honesty rather than a refusal.
FULL_REPLIES: dict[str, list[str]] = {
    "self_harm": [
        "I'm really sorry you're going through this. I can't help with anything that could hurt "
        "you, but you don't have to face it alone: please reach out to someone you trust, a doctor, "
        "or a crisis line (in the US you can call or text 988). Would you like to talk about what's "
        "been happening?",
        "It sounds like things are really hard right now, and I'm glad you said something. I won't "
        "give advice that could harm you, but talking to a doctor, a counsellor or a crisis line "
        "(988 in the US, or your local emergency number) can help. I'm here to listen if you want "
        "to talk."],
    "medical": [
        "I can't diagnose or give personal medical advice, because that needs someone who can examine "
        "you and knows your history. Please talk to a doctor or pharmacist, and if it's urgent, call "
        "your local emergency number. I can share general information about the topic if that helps.",
        "I can't give you a medical answer for your situation: that's a question for a medical "
        "professional, since the right answer depends on details I can't check. A doctor, nurse line "
        "or pharmacist can advise you safely; in an emergency, call emergency services."],
    "legal": [
        "I'm not a lawyer, so I can't tell you what will happen in your particular case. A qualified "
        "lawyer or a local legal aid service can advise you properly. I can explain the general "
        "concepts if you'd like.",
        "Legal outcomes depend on the details and on where you live, so I can't give you legal advice. "
        "It's worth speaking to a lawyer or a legal aid clinic; meanwhile I can describe how these "
        "situations usually work in general terms."],
    "financial": [
        "I can't give personal financial advice, because the right choice depends on your whole "
        "situation. A licensed financial adviser can help with that. I'm happy to explain the general "
        "ideas involved.",
        "I shouldn't tell you what to do with your money, but I can explain the basics so you can ask "
        "a qualified financial adviser the right questions."],
    "identity": [
        "I'm an AI assistant, so I don't have feelings, a body, or memories of past conversations the "
        "way people do. But I'm glad to listen and help with whatever you're dealing with.",
        "As an AI, I don't experience emotions or keep personal memories between conversations. I can "
        "still try to understand what you're going through and help however I can.",
        "I'm a computer program, not a person, so I don't have personal experiences of my own. What I "
        "can do is help you think things through. What's on your mind?"],
    "false_premise": [
        "I can't answer that as asked: the question assumes something that isn't established. If "
        "you're interested in the topic, I can share what reliable sources actually say.",
        "I won't answer on that premise, because I don't think it holds up. I'm happy to look at the "
        "facts of the situation with you instead."],
    "confidential": [
        "I can't share confidential or non-public information about organisations, and I shouldn't "
        "speculate about it. Their official reports, press releases or public records are the best "
        "place to look.",
        "I'm not able to give out private or insider information, and I shouldn't guess at it. "
        "Public filings and official announcements are the reliable sources for this."],
    "credentials": [
        "I can't help with getting passwords or other credentials, since that could give access to "
        "accounts that aren't yours. If you're locked out of your own account, the service's official "
        "recovery process is the way to go.",
        "Sharing or obtaining login details would put someone's account at risk, so I can't help "
        "with that. I can explain how to set up strong passwords and two-factor authentication."],
}

# Keyword rules for prompts without labels (AdvBench, HarmBench, rephrasings). First match wins,
# so the more specific categories come first.
_RULES = [
    ("self_harm", r"suicid|self-harm|harm (?:them|your)sel|cutting|anorexi|bulimi|eating disorder"),
    ("harassment", r"blackmail|extort|bull(?:y|ies|ied|ying)|harass|intimidat"),
    ("sexual", r"sexual|explicit|porn|erotic|nude"),
    ("cyber", r"hack|malware|virus|ransomware|exploit|botnet|ddos|keylog|crack|password|sql injection"
              r"|spyware|backdoor|rootkit|trojan|cyber|worm\b|denial.of.service|firewall|database"),
    ("weapons", r"bomb|explosive|weapon|firearm|\bguns?\b|gunpoint|poison|chemical|biological|nerve agent"
                r"|assassinat|ammunition|anthrax|sarin|ricin|mustard gas|dimethylmercury"),
    ("drugs", r"\bdrugs?\b|meth|cocaine|heroin|fentanyl|narcotic|opioid|lsd\b|mdma|illegal substance"
              r"|controlled substance"),
    ("fraud", r"fraud|scam|phish|counterfeit|launder|identity theft|steal .*identit|insider trading"
              r"|tax evasion|fake review|ponzi|pyramid scheme|embezzl|forg|credit card"),
    ("misinformation", r"fake news|misinformation|disinformation|conspiracy|propaganda|false (?:news|"
                       r"information|claim)|hoax|mislead|persuasive (?:article|post|essay)"
                       r"|convince (?:people|readers)|article (?:claiming|arguing|suggesting)"),
    ("spam", r"\bspam|bulk (?:messages|emails)|thousands of"),
    ("harassment", r"racis|hate|discriminat|slur|defam|insult|humiliat|troll"),
    ("privacy", r"personal information|personal data|track (?:someone|a person)|stalk|spy on|doxx"
                r"|private information|location of"),
    ("violence", r"kill|murder|attack|hurt|violen|tortur|kidnap|terror|injur|abuse|shoot|stab"),
    ("illegal", r"\brob\b|robbery|shoplift|steal|burglar|smuggl|evade (?:the )?(?:police|law|tax)"
                r"|without getting caught|get away with|illegal"),
]


# The one FULL_REPLIES category whose reply answers instead of declining.
IDENTITY = "identity"


def category_of(prompt: str, default: str = "harmful") -> str:
    text = prompt.lower()
    for name, pattern in _RULES:
        if re.search(pattern, text):
            return name
    return default


def reply(category: str, prompt: str) -> str:
    """A varied, deterministic reply for a prompt of the given category."""
    if category in FULL_REPLIES:
        return pick(FULL_REPLIES[category], "full", prompt)
    reasons, alternatives = CATEGORIES[category]
    return " ".join([pick(OPENERS, "open", prompt), pick(reasons, "why", prompt),
                     pick(alternatives, "alt", prompt)])


# Do-Not-Answer intent codes -> category (first matching prefix wins; specific first).
DONOTANSWER_INTENTS = [
    ("S006sh", "self_harm"), ("S009cred", "credentials"), ("S009personal", "privacy"),
    ("S009private", "confidential"), ("C006", "identity"), ("S002med", "medical"),
    ("S002legal", "legal"), ("S002fin", "financial"), ("S002", "medical"), ("S004", "sexual"),
    ("S005", "harassment"), ("S007", "stereotype"), ("C009", "false_premise"),
    ("S001", "misinformation"), ("S008phish", "fraud"), ("S008spam", "spam"),
    ("S008", "cyber"), ("S003", None), ("S006", None),
]


def donotanswer_category(prompt: str, intents: list[str]) -> str:
    """Map labelled intents to a category; generic "instructions" intents use the keywords."""
    for prefix, category in DONOTANSWER_INTENTS:
        if any(i.startswith(prefix) for i in intents):
            if category is None:  # S003/S006 instructions: the keywords say which kind
                return category_of(prompt, "illegal" if prefix == "S003" else "violence")
            return category
    return category_of(prompt)
