"""Generated step-by-step problems for the thinker domain (a GENERATOR: code written here).

Numbers come from stable_hash, never from `random`, so the same code gives the same items.
Every step is written as "<expression> = <value>" and recomputed by
_checks.arithmetic_problem before a record is yielded (worked_steps); dates are computed
with datetime and the day counts checked against it.
"""
from __future__ import annotations

import calendar
import datetime as dt

from ._checks import arithmetic_problem
from ._common import pick, stable_hash


def num(key, field: str, lo: int, hi: int) -> int:
    """A whole number in [lo, hi] chosen by the item's key."""
    return lo + stable_hash(key, field) % (hi - lo + 1)


def step_problem(steps) -> str | None:
    """None when every (expression, value) step recomputes to its value, else the reason."""
    for expression, value in steps:
        why = arithmetic_problem(expression, str(value))
        if why:
            return why
    return None


def steps_text(steps) -> str:
    return " ".join(f"{e} = {v}." for e, v in steps)


_NAMES = ["Maria", "Tom", "Aisha", "Ben", "Lena", "Omar", "Sofia", "Jack", "Mei", "Lucas",
          "Nora", "Sam", "Priya", "Leo", "Emma", "David"]
_GOODS = [("notebook", "notebooks"), ("pen", "pens"), ("sandwich", "sandwiches"),
          ("ticket", "tickets"), ("mug", "mugs"), ("plant", "plants"), ("book", "books")]
_SWEETS = [("cookie", "cookies"), ("marble", "marbles"), ("sticker", "stickers"),
           ("apple", "apples"), ("card", "cards")]


def word_problem(i: int):
    """(question, steps, answer sentence) of word problem number i, in one of six kinds."""
    key = ("word", i)
    kind = i % 6
    name = pick(_NAMES, *key, "name")
    if kind == 0:  # shopping with change
        one, many = pick(_GOODS, *key, "goods")
        a, p = num(key, "a", 2, 9), num(key, "p", 2, 15)
        bill = next(b for b in (20, 50, 100, 200) if b > a * p)
        q = (f"{name} buys {a} {many} at ${p} each and pays with a ${bill} bill. "
             f"How much change does {name} get?")
        steps = [(f"{a} × {p}", a * p), (f"{bill} - {a * p}", bill - a * p)]
        return q, steps, f"{name} gets ${bill - a * p} in change"
    if kind == 1:  # baking and selling
        t, per, sold_pct = num(key, "t", 3, 9), num(key, "per", 6, 12), num(key, "s", 2, 8)
        made = t * per
        sold = made * sold_pct // 10
        q = (f"A baker makes {t} trays of {per} muffins each and sells {sold} of them in the "
             f"morning. How many muffins are left?")
        steps = [(f"{t} × {per}", made), (f"{made} - {sold}", made - sold)]
        return q, steps, f"{made - sold} muffins are left"
    if kind == 2:  # sharing with a remainder
        one, many = pick(_SWEETS, *key, "sweet")
        n = num(key, "n", 3, 8)
        each, rest = num(key, "each", 3, 12), num(key, "rest", 0, n - 1)
        total = n * each + rest
        q = (f"{name} shares {total} {many} equally among {n} friends, giving each friend as "
             f"many as possible. How many does each friend get, and how many are left over?")
        steps = [(f"{n} × {each}", n * each), (f"{total} - {n * each}", rest)]
        tail = f"and {rest} {one if rest == 1 else many} {'is' if rest == 1 else 'are'} left over"
        return q, steps, f"each friend gets {each} {many}, {tail}"
    if kind == 3:  # distance at two speeds
        v1, t1, v2, t2 = (num(key, "v1", 4, 12) * 10, num(key, "t1", 1, 4),
                          num(key, "v2", 4, 12) * 10, num(key, "t2", 1, 3))
        q = (f"A train travels at {v1} km/h for {t1} hour{'s' * (t1 > 1)} and then at {v2} km/h "
             f"for {t2} hour{'s' * (t2 > 1)}. How far does it travel in total?")
        steps = [(f"{v1} × {t1}", v1 * t1), (f"{v2} × {t2}", v2 * t2),
                 (f"{v1 * t1} + {v2 * t2}", v1 * t1 + v2 * t2)]
        return q, steps, f"the train travels {v1 * t1 + v2 * t2} km"
    if kind == 4:  # saving towards a goal
        s, have = num(key, "s", 5, 25), num(key, "h", 10, 90)
        weeks = num(key, "w", 3, 15)
        goal = have + s * weeks
        q = (f"{name} has ${have} and saves ${s} every week. How many weeks will it take "
             f"to have ${goal}?")
        steps = [(f"{goal} - {have}", goal - have), (f"{goal - have} ÷ {s}", weeks)]
        return q, steps, f"it will take {weeks} weeks"
    # a discount
    price, off = num(key, "price", 1, 15) * 20, pick([10, 20, 25, 30, 40, 50], *key, "off")
    cut = price * off // 100
    item = pick(["jacket", "lamp", "bicycle helmet", "pair of shoes", "backpack"], *key, "item")
    q = f"A {item} costs ${price}. It is on sale for {off}% off. What is the sale price?"
    steps = [(f"{price} × {off} ÷ 100", cut), (f"{price} - {cut}", price - cut)]
    return q, steps, f"the sale price is ${price - cut}"


def _long(d: dt.date) -> str:
    return f"{calendar.month_name[d.month]} {d.day}, {d.year}"


def calendar_problem(i: int):
    """(question, worked reply, answer) of calendar problem number i, computed with datetime."""
    key = ("calendar", i)
    kind = i % 4
    year = num(key, "year", 1990, 2030)
    start = dt.date(year, 1, 1) + dt.timedelta(days=num(key, "start", 0, 300))
    if kind == 0:  # add days, month by month
        n = num(key, "n", 20, 150)
        end = start + dt.timedelta(days=n)
        q = pick(["What date is {n} days after {d}?", "If today is {d}, what is the date in {n} days?",
                  "Count {n} days forward from {d}. What date do you get?"], *key, "q")
        q = q.format(n=n, d=_long(start))
        parts, left, cur = [], n, start
        month_end = dt.date(cur.year, cur.month, calendar.monthrange(cur.year, cur.month)[1])
        if (month_end - cur).days < left:
            rest = (month_end - cur).days
            parts.append(f"{calendar.month_name[cur.month]} has {month_end.day} days, so "
                         f"{month_end.day} - {cur.day} = {rest} days take us to the end of "
                         f"{calendar.month_name[cur.month]}; {left} - {rest} = {left - rest} days remain.")
            left -= rest
            cur = month_end
            while True:
                nxt = cur + dt.timedelta(days=1)
                size = calendar.monthrange(nxt.year, nxt.month)[1]
                if left <= size:
                    break
                parts.append(f"{calendar.month_name[nxt.month]} {nxt.year} has {size} days: "
                             f"{left} - {size} = {left - size} remain.")
                left -= size
                cur = dt.date(nxt.year, nxt.month, size)
            landed = cur + dt.timedelta(days=left)
            parts.append(f"The remaining {left} days land on {calendar.month_name[landed.month]} {landed.day}.")
        else:
            landed = cur + dt.timedelta(days=left)
            parts.append(f"{start.day} + {n} = {landed.day}, which is still in "
                         f"{calendar.month_name[cur.month]}.")
        if landed != end:
            return None
        return q, " ".join(parts), _long(end)
    if kind == 1:  # days between two dates of one year
        end = start + dt.timedelta(days=num(key, "n", 20, 200))
        if end.year != start.year:
            end = dt.date(start.year, 12, 31)
        q = pick(["How many days are there from {a} to {b}?",
                  "How many days pass between {a} and {b}?"], *key, "q").format(
            a=_long(start), b=_long(end))
        total = (end - start).days
        if start.month == end.month:
            work = f"Both dates are in {calendar.month_name[start.month]}: {end.day} - {start.day} = {total}."
            return q, work, f"{total} days"
        terms = [calendar.monthrange(start.year, start.month)[1] - start.day]
        lines = [f"Days left in {calendar.month_name[start.month]}: "
                 f"{calendar.monthrange(start.year, start.month)[1]} - {start.day} = {terms[0]}."]
        for m in range(start.month + 1, end.month):
            size = calendar.monthrange(start.year, m)[1]
            terms.append(size)
            lines.append(f"{calendar.month_name[m]}: {size}.")
        terms.append(end.day)
        lines.append(f"{calendar.month_name[end.month]}: {end.day}.")
        expr = " + ".join(str(t) for t in terms)
        if step_problem([(expr, total)]):
            return None
        lines.append(f"Total: {expr} = {total}.")
        return q, " ".join(lines), f"{total} days"
    if kind == 2:  # weekday after n days
        days = list(calendar.day_name)
        today = num(key, "today", 0, 6)
        n = num(key, "n", 8, 400)
        weeks, rest = divmod(n, 7)
        q = pick(["If today is {d}, what day of the week will it be in {n} days?",
                  "Today is {d}. Which day of the week is it {n} days from now?"], *key, "q").format(
            d=days[today], n=n)
        work = (f"A week has 7 days, and {n} = 7 × {weeks} + {rest}. Whole weeks bring us back to "
                f"{days[today]}, so only the {rest} extra day{'s' if rest != 1 else ''} count"
                f"{'s' if rest == 1 else ''}: {days[today]} + {rest} is {days[(today + rest) % 7]}.")
        if step_problem([(f"7 × {weeks} + {rest}", n)]):
            return None
        return q, work, days[(today + rest) % 7]
    # age on a date
    born = dt.date(num(key, "by", 1940, 2005), num(key, "bm", 1, 12), num(key, "bd", 1, 28))
    on = dt.date(num(key, "oy", 2010, 2030), num(key, "om", 1, 12), num(key, "od", 1, 28))
    had = (on.month, on.day) >= (born.month, born.day)
    age = on.year - born.year - (0 if had else 1)
    q = f"Someone was born on {_long(born)}. How old are they on {_long(on)}?"
    work = (f"{on.year} - {born.year} = {on.year - born.year}. Their birthday "
            f"({calendar.month_name[born.month]} {born.day}) "
            + ("has already come by " if had else "has not yet come by ")
            + f"{calendar.month_name[on.month]} {on.day}, so "
            + (f"they are {age}." if had else f"we subtract 1: they are {age}."))
    return q, work, f"{age} years old"


_CATEGORIES = {
    "fruits": ["apple", "banana", "orange", "pear", "peach", "plum", "grape", "strawberry",
               "nectarine", "raspberry", "blackberry"],
    "vegetables": ["carrot", "potato", "onion", "cabbage", "lettuce head", "yam", "garlic",
                   "stalk of celery", "head of broccoli", "cauliflower"],
    "animals": ["dog", "cat", "rabbit", "goat", "cow", "pig", "chicken", "duck", "donkey",
                "mouse", "frog", "snail"],
    "musical instruments": ["piano", "flute", "trumpet", "violin", "drum", "clarinet",
                            "trombone", "accordion"],
    "pieces of furniture": ["chair", "table", "bed", "couch", "bookshelf", "stool",
                            "wardrobe", "desk"],
}
_NUMBER_WORDS = ["zero", "a", "two", "three", "four", "five"]


def _plural(word: str) -> str:
    if word.startswith(("stalk of", "head of")):
        head, rest = word.split(" ", 1)
        return head + "s " + rest
    if word in ("bookshelf", "potato"):
        return {"bookshelf": "bookshelves", "potato": "potatoes"}[word]
    if word.endswith(("ch", "sh", "s")):
        return word + "es"
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word == "mouse":
        return "mice"
    if word == "goose":
        return "geese"
    return word + "s"


def counting_problem(i: int):
    """(question, steps text, count, category) of counting problem i: items of one category
    among distractors, listed with number words."""
    key = ("count", i)
    cats = sorted(_CATEGORIES)
    target = cats[i % len(cats)]
    others = [c for c in cats if c != target]
    distract = pick(others, *key, "other")
    pool = _CATEGORIES[target]
    k = num(key, "k", 2, 5)
    chosen = sorted(pool, key=lambda w: stable_hash(key, "pick", w))[:k]
    extra = sorted(_CATEGORIES[distract], key=lambda w: stable_hash(key, "x", w))[:num(key, "kx", 1, 3)]
    items = [(w, num(key, "n" + w, 1, 4), True) for w in chosen] + \
            [(w, num(key, "n" + w, 1, 3), False) for w in extra]
    items.sort(key=lambda t: stable_hash(key, "order", t[0]))

    def say(w, n):
        if n == 1:
            return f"{'an' if w[0] in 'aeiou' else 'a'} {w}"
        return f"{_NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else n} {_plural(w)}"
    listing = ", ".join(say(w, n) for w, n, _ in items[:-1]) + f", and {say(*items[-1][:2])}"
    q = pick(["I have {l}. How many {c} do I have?", "In my house there are {l}. How many {c} are there?",
              "My list says: {l}. How many {c} is that?"], *key, "q").format(l=listing, c=target)
    counted = [(w, n) for w, n, keep in items if keep]
    skipped = [w for w, _, keep in items if not keep]
    expr = " + ".join(str(n) for _, n in counted)
    total = sum(n for _, n in counted)
    lines = ", ".join(f"{n} {w if n == 1 else _plural(w)}" for w, n in counted)
    skip = [_plural(w) for w in skipped]
    skip = skip[0] if len(skip) == 1 else ", ".join(skip[:-1]) + " and " + skip[-1]
    work = (f"Counting only the {target}: {lines}. The {skip} are not {target}, so they do "
            f"not count. {expr} = {total}.")
    return q, work, (expr, total), target
