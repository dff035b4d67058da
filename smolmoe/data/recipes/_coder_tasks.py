"""Small programming tasks generated here, each with a solution that is checked before use.

One task = a function name, a one-line spec, the solution's source (written here, shown to
the user) and an independent reference function. The solution is executed (our own code
only, with a small set of builtins and no imports) and must agree with the reference on
every example input, or the task is dropped. Used by the coder recipe (generator/tasks).
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Callable

from ._common import pick, stable_hash

_SAFE_BUILTINS = {name: __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
                  for name in ("abs", "all", "any", "bool", "dict", "enumerate", "filter", "float",
                               "int", "isinstance", "len", "list", "map", "max", "min", "range",
                               "reversed", "round", "set", "sorted", "str", "sum", "tuple", "zip",
                               "ValueError", "chr", "ord")}


@dataclass(frozen=True)
class Task:
    key: str            # stable id: family + parameter (the record's group)
    name: str           # function name
    params: str         # parameter list as written in the signature
    spec: str           # what it does, a clause after "that" ("returns ...")
    code: str           # the solution, a complete def
    ref: Callable       # independent reference implementation
    inputs: tuple       # example argument tuples


_WORDS = ["banana", "Python", "level", "racecar", "apple", "Mississippi", "hello", "Noon",
          "keyboard", "queue", "rhythm", "avocado", "Tree", "sky", "moonlight", "cheese"]
_SENTENCES = ["the quick brown fox jumps over the lazy dog", "a small step for a cat",
              "Python makes simple things simple", "read the docs before you ask",
              "every good boy deserves fruit", "to be or not to be", "keep calm and carry on",
              "all that glitters is not gold"]
_LISTS = [[3, 8, 1, 9, 4], [10, -2, 7, 7, 0], [5], [1, 2, 3, 4, 5, 6], [12, 15, 20, 33, 40],
          [-5, -1, -8], [2, 4, 6, 8], [9, 3, 27, 81, 1], [0, 0, 1], [14, 21, 6, 35, 49, 10]]
_NUMBERS = [0, 1, 5, 7, 10, 12, 15, 20, 28, 36, 49, 100]


def _choose(pool, key, k):
    """k distinct items of pool, chosen by the task key (stable across runs)."""
    return sorted(pool, key=lambda x: stable_hash("coder-task", key, repr(x)))[:k]


def _letter_tasks():
    for c in string.ascii_lowercase:
        yield Task(f"count_letter:{c}", f"count_{c}", "text",
                   f"returns how many times the letter '{c}' appears in `text`, ignoring case",
                   f"def count_{c}(text):\n    return text.lower().count(\"{c}\")",
                   lambda t, c=c: t.lower().count(c), tuple((w,) for w in _choose(_WORDS, c, 3)))
        yield Task(f"remove_letter:{c}", f"remove_{c}", "text",
                   f"returns `text` with every '{c}' removed, in lower or upper case",
                   f"def remove_{c}(text):\n    return text.replace(\"{c}\", \"\").replace(\"{c.upper()}\", \"\")",
                   lambda t, c=c: "".join(x for x in t if x.lower() != c),
                   tuple((w,) for w in _choose(_WORDS + _SENTENCES, "remove" + c, 3)))
        yield Task(f"starts_with:{c}", f"words_starting_with_{c}", "words",
                   f"returns the words in the list `words` that start with the letter '{c}' (either case), in order",
                   f"def words_starting_with_{c}(words):\n    return [w for w in words if w.lower().startswith(\"{c}\")]",
                   lambda ws, c=c: [w for w in ws if w[:1].lower() == c],
                   tuple((x.split(),) for x in _choose(_SENTENCES, "starts" + c, 3)))


def _caesar_tasks():
    for k in range(1, 26):
        code = (f"def shift_{k}(text):\n    result = []\n    for ch in text:\n"
                f"        if \"a\" <= ch <= \"z\":\n"
                f"            result.append(chr((ord(ch) - ord(\"a\") + {k}) % 26 + ord(\"a\")))\n"
                f"        else:\n            result.append(ch)\n    return \"\".join(result)")

        def ref(t, k=k):
            return "".join(chr((ord(ch) - 97 + k) % 26 + 97) if "a" <= ch <= "z" else ch for ch in t)
        yield Task(f"caesar:{k}", f"shift_{k}", "text",
                   f"shifts every lower-case letter of `text` {k} places forward in the alphabet "
                   f"(wrapping from z to a) and leaves other characters unchanged",
                   code, ref, tuple((w,) for w in _choose(["abc", "xyz", "hello world", "python 3"], k, 3)))


def _number_tasks():
    for k in range(2, 14):
        yield Task(f"sum_multiples:{k}", f"sum_multiples_of_{k}", "n",
                   f"returns the sum of all positive integers below `n` that are divisible by {k}",
                   f"def sum_multiples_of_{k}(n):\n    return sum(i for i in range(1, n) if i % {k} == 0)",
                   lambda n, k=k: sum(i for i in range(1, n) if i % k == 0),
                   tuple((n,) for n in _choose([10, 20, 30, 50, 100], k, 3)))
        yield Task(f"divisible:{k}", f"divisible_by_{k}", "numbers",
                   f"returns a list of the numbers in `numbers` that are divisible by {k}, in their original order",
                   f"def divisible_by_{k}(numbers):\n    return [n for n in numbers if n % {k} == 0]",
                   lambda xs, k=k: [x for x in xs if x % k == 0],
                   tuple((list(x),) for x in _choose(_LISTS, k, 3)))
        yield Task(f"times_table:{k}", f"times_table_{k}", "n",
                   f"returns a list of the first `n` multiples of {k}, starting with {k}",
                   f"def times_table_{k}(n):\n    return [{k} * i for i in range(1, n + 1)]",
                   lambda n, k=k: [k * i for i in range(1, n + 1)], ((3,), (5,), (1,)))
    for k in range(2, 11):
        yield Task(f"powers:{k}", f"powers_of_{k}", "n",
                   f"returns a list of the first `n` powers of {k}, starting with {k} to the power 0",
                   f"def powers_of_{k}(n):\n    return [{k} ** i for i in range(n)]",
                   lambda n, k=k: [k ** i for i in range(n)], ((4,), (1,), (6,)))
    for k in range(2, 9):
        yield Task(f"long_words:{k}", f"words_longer_than_{k}", "sentence",
                   f"returns the words of `sentence` that have more than {k} letters, in order",
                   f"def words_longer_than_{k}(sentence):\n    return [w for w in sentence.split() if len(w) > {k}]",
                   lambda s, k=k: [w for w in s.split() if len(w) > k],
                   tuple((s,) for s in _choose(_SENTENCES, k, 3)))
    for k in range(2, 7):
        yield Task(f"chunks:{k}", f"chunks_of_{k}", "items",
                   f"splits the list `items` into consecutive chunks of {k} elements (the last chunk may be shorter)",
                   f"def chunks_of_{k}(items):\n    return [items[i:i + {k}] for i in range(0, len(items), {k})]",
                   lambda xs, k=k: [xs[i:i + k] for i in range(0, len(xs), k)],
                   tuple((list(x),) for x in _choose(_LISTS, k, 2)))
    for k in range(1, 8):
        yield Task(f"rotate:{k}", f"rotate_left_{k}", "items",
                   f"returns a new list with the elements of `items` rotated {k} place{'s' if k > 1 else ''} "
                   f"to the left (an empty list stays empty)",
                   f"def rotate_left_{k}(items):\n    if not items:\n        return []\n"
                   f"    k = {k} % len(items)\n    return items[k:] + items[:k]",
                   lambda xs, k=k: xs[k % len(xs):] + xs[:k % len(xs)] if xs else [],
                   tuple((list(x),) for x in _choose([[1, 2, 3, 4, 5], [7, 8], [], [4, 5, 6, 7, 8, 9]], k, 2)))
    for width in range(3, 9):
        yield Task(f"zero_pad:{width}", f"pad_{width}", "n",
                   f"returns the non-negative integer `n` as a string padded with leading zeros to {width} digits",
                   f"def pad_{width}(n):\n    return str(n).zfill({width})",
                   lambda n, w=width: str(n).zfill(w), tuple((n,) for n in _choose(_NUMBERS, width, 3)))


_FIZZ = [(3, 5, "Fizz", "Buzz"), (2, 7, "Ping", "Pong"), (3, 4, "Tick", "Tock"),
         (4, 6, "Foo", "Bar"), (2, 3, "Hip", "Hop"), (5, 7, "Zip", "Zap")]


def _fizz_tasks():
    for a, b, wa, wb in _FIZZ:
        name = f"{wa.lower()}_{wb.lower()}"
        code = (f"def {name}(n):\n    if n % {a} == 0 and n % {b} == 0:\n        return \"{wa}{wb}\"\n"
                f"    if n % {a} == 0:\n        return \"{wa}\"\n    if n % {b} == 0:\n        return \"{wb}\"\n"
                f"    return str(n)")

        def ref(n, a=a, b=b, wa=wa, wb=wb):
            return (wa if n % a == 0 else "") + (wb if n % b == 0 else "") or str(n)
        yield Task(f"fizz:{a}:{b}", name, "n",
                   f"returns \"{wa}\" if `n` is divisible by {a}, \"{wb}\" if it is divisible by {b}, "
                   f"\"{wa}{wb}\" if both, and otherwise `n` as a string",
                   code, ref, tuple((n,) for n in _choose(list(range(1, 43)), name, 3)))


_UNITS = [("celsius_to_fahrenheit", "celsius", "converts a temperature from degrees Celsius to degrees Fahrenheit",
           "celsius * 9 / 5 + 32", lambda x: x * 9 / 5 + 32),
          ("fahrenheit_to_celsius", "fahrenheit", "converts a temperature from degrees Fahrenheit to degrees Celsius",
           "(fahrenheit - 32) * 5 / 9", lambda x: (x - 32) * 5 / 9),
          ("km_to_miles", "km", "converts a distance in kilometres to miles (1 mile is 1.609344 km)",
           "km / 1.609344", lambda x: x / 1.609344),
          ("miles_to_km", "miles", "converts a distance in miles to kilometres (1 mile is 1.609344 km)",
           "miles * 1.609344", lambda x: x * 1.609344),
          ("kg_to_pounds", "kg", "converts a mass in kilograms to pounds (1 kg is 2.20462 lb)",
           "kg * 2.20462", lambda x: x * 2.20462),
          ("inches_to_cm", "inches", "converts a length in inches to centimetres (1 inch is 2.54 cm)",
           "inches * 2.54", lambda x: x * 2.54),
          ("hours_to_seconds", "hours", "converts a number of hours to seconds",
           "hours * 3600", lambda x: x * 3600),
          ("litres_to_millilitres", "litres", "converts a volume in litres to millilitres",
           "litres * 1000", lambda x: x * 1000),
          ("bytes_to_kib", "n_bytes", "converts a number of bytes to kibibytes (1 KiB is 1024 bytes)",
           "n_bytes / 1024", lambda x: x / 1024)]


def _unit_tasks():
    for name, arg, spec, expr, ref in _UNITS:
        yield Task(f"unit:{name}", name, arg, f"{spec}, rounded to 2 decimal places",
                   f"def {name}({arg}):\n    return round({expr}, 2)",
                   lambda x, ref=ref: round(ref(x), 2), tuple((n,) for n in _choose([0, 10, 25, 100, 212, 37], name, 2)))


def _single(key, name, params, spec, code, ref, inputs):
    return Task(f"single:{key}", name, params, spec, code, ref, tuple(inputs))


def _single_tasks():
    L = [(list(x),) for x in _LISTS]
    S = [(s,) for s in _SENTENCES]
    W = [(w,) for w in _WORDS]
    N = [(n,) for n in _NUMBERS]

    def ch(pool, key, k=2):
        return _choose(pool, key, k)
    yield _single("average", "average", "numbers", "returns the arithmetic mean of a non-empty list of numbers",
                  "def average(numbers):\n    return sum(numbers) / len(numbers)",
                  lambda xs: sum(xs) / len(xs), ch(L, "average"))
    yield _single("spread", "spread", "numbers", "returns the difference between the largest and the smallest number of a non-empty list",
                  "def spread(numbers):\n    return max(numbers) - min(numbers)",
                  lambda xs: max(xs) - min(xs), ch(L, "spread"))
    yield _single("count_even", "count_even", "numbers", "returns how many numbers in the list are even",
                  "def count_even(numbers):\n    return sum(1 for n in numbers if n % 2 == 0)",
                  lambda xs: len([x for x in xs if x % 2 == 0]), ch(L, "count_even"))
    yield _single("count_negative", "count_negative", "numbers", "returns how many numbers in the list are below zero",
                  "def count_negative(numbers):\n    return sum(1 for n in numbers if n < 0)",
                  lambda xs: len([x for x in xs if x < 0]), ch(L, "count_negative"))
    yield _single("sum_squares", "sum_of_squares", "numbers", "returns the sum of the squares of the numbers in the list",
                  "def sum_of_squares(numbers):\n    return sum(n * n for n in numbers)",
                  lambda xs: sum(x ** 2 for x in xs), ch(L, "sum_squares"))
    yield _single("product", "product", "numbers", "returns the product of all numbers in the list (1 for an empty list)",
                  "def product(numbers):\n    result = 1\n    for n in numbers:\n        result *= n\n    return result",
                  lambda xs: _prod(xs), ch(L, "product"))
    yield _single("second_largest", "second_largest", "numbers",
                  "returns the second largest distinct value in the list, or None if there is none",
                  "def second_largest(numbers):\n    values = sorted(set(numbers), reverse=True)\n"
                  "    return values[1] if len(values) > 1 else None",
                  lambda xs: sorted(set(xs))[-2] if len(set(xs)) > 1 else None, ch(L, "second_largest", 3))
    yield _single("dedupe", "unique_in_order", "items", "returns the items of the list without duplicates, keeping the first occurrence of each",
                  "def unique_in_order(items):\n    seen = set()\n    result = []\n    for item in items:\n"
                  "        if item not in seen:\n            seen.add(item)\n            result.append(item)\n    return result",
                  lambda xs: list(dict.fromkeys(xs)), ch(L, "dedupe"))
    yield _single("running_total", "running_total", "numbers", "returns a list where each element is the sum of the numbers up to and including that position",
                  "def running_total(numbers):\n    total = 0\n    result = []\n    for n in numbers:\n"
                  "        total += n\n        result.append(total)\n    return result",
                  lambda xs: [sum(xs[:i + 1]) for i in range(len(xs))], ch(L, "running_total"))
    yield _single("pairwise_diff", "differences", "numbers", "returns the list of differences between each number and the one before it",
                  "def differences(numbers):\n    return [b - a for a, b in zip(numbers, numbers[1:])]",
                  lambda xs: [xs[i + 1] - xs[i] for i in range(len(xs) - 1)], ch(L, "pairwise_diff"))
    yield _single("is_sorted", "is_sorted", "numbers", "returns True if the list is in non-decreasing order and False otherwise",
                  "def is_sorted(numbers):\n    return all(a <= b for a, b in zip(numbers, numbers[1:]))",
                  lambda xs: xs == sorted(xs), ch(L, "is_sorted", 3))
    yield _single("reverse_words", "reverse_words", "sentence", "returns the sentence with the order of its words reversed",
                  "def reverse_words(sentence):\n    return \" \".join(reversed(sentence.split()))",
                  lambda s: " ".join(s.split()[::-1]), ch(S, "reverse_words"))
    yield _single("title_words", "capitalize_words", "sentence", "returns the sentence with the first letter of every word in upper case",
                  "def capitalize_words(sentence):\n    return \" \".join(w[:1].upper() + w[1:] for w in sentence.split())",
                  lambda s: " ".join(w[0].upper() + w[1:] for w in s.split()), ch(S, "title_words"))
    yield _single("acronym", "acronym", "phrase", "returns the upper-case first letters of the words of `phrase`",
                  "def acronym(phrase):\n    return \"\".join(w[0].upper() for w in phrase.split())",
                  lambda s: "".join(w[0] for w in s.split()).upper(), ch(S, "acronym"))
    yield _single("longest_word", "longest_word", "sentence", "returns the longest word of the sentence (the first one if several are equally long)",
                  "def longest_word(sentence):\n    return max(sentence.split(), key=len)",
                  lambda s: sorted(s.split(), key=lambda w: -len(w))[0], ch(S, "longest_word"))
    yield _single("word_count", "word_lengths", "sentence", "returns a dictionary mapping each word of the sentence to its length",
                  "def word_lengths(sentence):\n    return {w: len(w) for w in sentence.split()}",
                  lambda s: dict((w, len(w)) for w in s.split()), ch(S, "word_count"))
    yield _single("palindrome", "is_palindrome", "word", "returns True if `word` reads the same forwards and backwards, ignoring case",
                  "def is_palindrome(word):\n    w = word.lower()\n    return w == w[::-1]",
                  lambda w: w.lower() == "".join(reversed(w.lower())), ch(W, "palindrome", 3))
    yield _single("vowels", "count_vowels", "text", "returns the number of vowels (a, e, i, o, u) in `text`, ignoring case",
                  "def count_vowels(text):\n    return sum(1 for ch in text.lower() if ch in \"aeiou\")",
                  lambda t: len([c for c in t.lower() if c in "aeiou"]), ch(W, "vowels", 3))
    yield _single("remove_vowels", "remove_vowels", "text", "returns `text` with every vowel (a, e, i, o, u, either case) removed",
                  "def remove_vowels(text):\n    return \"\".join(ch for ch in text if ch.lower() not in \"aeiou\")",
                  lambda t: "".join(c for c in t if c not in "aeiouAEIOU"), ch(W, "remove_vowels"))
    yield _single("char_freq", "char_counts", "text", "returns a dictionary mapping each character of `text` to how often it occurs",
                  "def char_counts(text):\n    counts = {}\n    for ch in text:\n        counts[ch] = counts.get(ch, 0) + 1\n    return counts",
                  lambda t: {c: t.count(c) for c in dict.fromkeys(t)}, ch(W, "char_freq"))
    yield _single("rle", "run_length_encode", "text",
                  "returns the run-length encoding of `text`: each run of a repeated character becomes the character followed by the run's length",
                  "def run_length_encode(text):\n    result = \"\"\n    i = 0\n    while i < len(text):\n        j = i\n"
                  "        while j < len(text) and text[j] == text[i]:\n            j += 1\n"
                  "        result += text[i] + str(j - i)\n        i = j\n    return result",
                  lambda t: "".join(c + str(n) for c, n in _runs(t)), [("aaabcc",), ("Mississippi",)])
    yield _single("anagram", "is_anagram", "a, b", "returns True if the two words use exactly the same letters, ignoring case",
                  "def is_anagram(a, b):\n    return sorted(a.lower()) == sorted(b.lower())",
                  lambda a, b: {c: a.lower().count(c) for c in a.lower()} == {c: b.lower().count(c) for c in b.lower()},
                  [("listen", "Silent"), ("apple", "paple"), ("cat", "act"), ("dog", "god"), ("abc", "abd")][:3])
    yield _single("factorial", "factorial", "n", "returns n! (the product of 1 to n; 0! is 1) for a non-negative integer `n`",
                  "def factorial(n):\n    result = 1\n    for i in range(2, n + 1):\n        result *= i\n    return result",
                  lambda n: _fact(n), [(0,), (5,), (7,)])
    yield _single("fibonacci", "fibonacci", "n", "returns the n-th Fibonacci number, where fibonacci(0) is 0 and fibonacci(1) is 1",
                  "def fibonacci(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
                  lambda n: _fib(n), [(0,), (7,), (10,)])
    yield _single("gcd", "gcd", "a, b", "returns the greatest common divisor of two positive integers using Euclid's algorithm",
                  "def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a",
                  lambda a, b: max(d for d in range(1, min(a, b) + 1) if a % d == 0 and b % d == 0),
                  [(12, 18), (35, 14), (17, 5)])
    yield _single("is_prime", "is_prime", "n", "returns True if the integer `n` is a prime number and False otherwise",
                  "def is_prime(n):\n    if n < 2:\n        return False\n    i = 2\n    while i * i <= n:\n"
                  "        if n % i == 0:\n            return False\n        i += 1\n    return True",
                  lambda n: n > 1 and all(n % d for d in range(2, n)), [(1,), (13,), (21,), (2,)])
    yield _single("digit_sum", "digit_sum", "n", "returns the sum of the decimal digits of the non-negative integer `n`",
                  "def digit_sum(n):\n    return sum(int(d) for d in str(n))",
                  lambda n: sum(map(int, str(n))), ch(N, "digit_sum"))
    yield _single("binary", "to_binary", "n", "returns the binary representation of the non-negative integer `n` as a string of 0s and 1s",
                  "def to_binary(n):\n    if n == 0:\n        return \"0\"\n    bits = \"\"\n    while n > 0:\n"
                  "        bits = str(n % 2) + bits\n        n //= 2\n    return bits",
                  lambda n: format(n, "b"), ch(N, "binary", 3))
    yield _single("collatz", "collatz_steps", "n",
                  "returns how many steps the Collatz rule (halve even numbers, map odd n to 3n + 1) takes to reach 1 from the positive integer `n`",
                  "def collatz_steps(n):\n    steps = 0\n    while n != 1:\n        n = n // 2 if n % 2 == 0 else 3 * n + 1\n"
                  "        steps += 1\n    return steps",
                  lambda n: _collatz(n), [(1,), (6,), (7,)])
    yield _single("leap", "is_leap_year", "year", "returns True if `year` is a leap year in the Gregorian calendar",
                  "def is_leap_year(year):\n    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)",
                  lambda y: (y % 400 == 0) or (y % 4 == 0 and y % 100 != 0), [(2024,), (1900,), (2000,), (2023,)])
    yield _single("invert", "invert_dict", "mapping", "returns a new dictionary with the keys and values of `mapping` swapped",
                  "def invert_dict(mapping):\n    return {value: key for key, value in mapping.items()}",
                  lambda m: dict((v, k) for k, v in m.items()), [({"a": 1, "b": 2},), ({"x": "y"},)])
    yield _single("merge_counts", "merge_counts", "a, b", "returns a dictionary with the keys of both dictionaries, adding the values of keys found in both",
                  "def merge_counts(a, b):\n    result = dict(a)\n    for key, value in b.items():\n"
                  "        result[key] = result.get(key, 0) + value\n    return result",
                  lambda a, b: {k: a.get(k, 0) + b.get(k, 0) for k in list(a) + [k for k in b if k not in a]},
                  [({"a": 1, "b": 2}, {"b": 3, "c": 4}), ({}, {"x": 1})])
    yield _single("group_first", "group_by_first_letter", "words", "returns a dictionary mapping each first letter to the list of words that start with it, in order",
                  "def group_by_first_letter(words):\n    groups = {}\n    for word in words:\n"
                  "        groups.setdefault(word[0], []).append(word)\n    return groups",
                  lambda ws: {c: [w for w in ws if w[0] == c] for c in dict.fromkeys(w[0] for w in ws)},
                  [(["apple", "avocado", "banana", "cherry", "blueberry"],), (["sky", "sea"],)])
    yield _single("flatten", "flatten", "lists", "returns one list with the elements of a list of lists, in order",
                  "def flatten(lists):\n    return [item for sub in lists for item in sub]",
                  lambda ls: sum(ls, []), [([[1, 2], [3], []],), ([["a"], ["b", "c"]],)])
    yield _single("clamp", "clamp", "x, low, high", "returns `x` limited to the range from `low` to `high`",
                  "def clamp(x, low, high):\n    return max(low, min(x, high))",
                  lambda x, lo, hi: lo if x < lo else hi if x > hi else x, [(5, 0, 10), (-3, 0, 10), (42, 0, 10)])
    yield _single("triangle", "triangle_numbers", "n", "returns a list of the first `n` triangle numbers (1, 3, 6, ...)",
                  "def triangle_numbers(n):\n    return [i * (i + 1) // 2 for i in range(1, n + 1)]",
                  lambda n: [sum(range(i + 1)) for i in range(1, n + 1)], [(4,), (6,)])
    yield _single("count_words", "count_words", "sentence", "returns a dictionary mapping each word of the sentence to how many times it occurs",
                  "def count_words(sentence):\n    counts = {}\n    for word in sentence.split():\n"
                  "        counts[word] = counts.get(word, 0) + 1\n    return counts",
                  lambda s: {w: s.split().count(w) for w in dict.fromkeys(s.split())}, ch(S, "count_words"))


def _prod(xs):
    return xs[0] * _prod(xs[1:]) if xs else 1


def _runs(t):
    out = []
    for c in t:
        if out and out[-1][0] == c:
            out[-1][1] += 1
        else:
            out.append([c, 1])
    return out


def _fact(n):
    return 1 if n < 2 else n * _fact(n - 1)


def _fib(n):
    return n if n < 2 else _fib(n - 1) + _fib(n - 2)


def _collatz(n):
    return 0 if n == 1 else 1 + _collatz(n // 2 if n % 2 == 0 else 3 * n + 1)


def tasks():
    for family in (_letter_tasks, _caesar_tasks, _number_tasks, _fizz_tasks, _unit_tasks, _single_tasks):
        yield from family()


def verify(task: Task) -> list[tuple[tuple, object]] | str:
    """[(args, result)] when the shown solution agrees with the reference on every example,
    else a reason. Only code written in this module is executed."""
    namespace = {"__builtins__": _SAFE_BUILTINS}
    try:
        exec(compile(task.code, f"<task {task.key}>", "exec"), namespace)  # noqa: S102 (our own code)
        fn = namespace[task.name]
        results = []
        for args in task.inputs:
            got = fn(*_copy(args))
            if got != task.ref(*_copy(args)) or type(got) is not type(task.ref(*_copy(args))):
                return "task_solution_wrong"
            results.append((args, got))
    except Exception:  # noqa: BLE001 (any failure of the shown solution drops the task)
        return "task_solution_fails"
    return results


def _copy(args):
    return tuple(list(a) if isinstance(a, list) else dict(a) if isinstance(a, dict) else a for a in args)


def call(task: Task, args) -> str:
    return f"{task.name}({', '.join(repr(a) for a in args)})"


_ASK = ["Write a Python function `{name}({params})` that {spec}.",
        "I need a Python function `{name}({params})`: it {spec}.",
        "Can you write `{name}({params})` in Python? It {spec}."]
_ASK_EXAMPLES = ["Write a Python function `{name}({params})` that {spec}. For example, {examples}.",
                 "Implement `{name}({params})` in Python so that it {spec}. Examples: {examples}."]
_ASK_ASSERTS = ["Write a Python function `{name}({params})` that {spec}, and add a few assert statements that test it.",
                "Please write `{name}({params})`, which {spec}, with some asserts to check it."]


def requests(task: Task, results) -> list[tuple[str, str]]:
    """Three (request, answer) pairs for one verified task: plain, with examples, with asserts."""
    fmt = {"name": task.name, "params": task.params, "spec": task.spec}
    calls = [(call(task, args), repr(out)) for args, out in results]
    examples = " and ".join(f"`{c}` should return `{o}`" for c, o in calls[:2])
    code = f"```python\n{task.code}\n```"
    first_c, first_o = calls[0]
    plain = (pick(_ASK, task.key, "ask").format(**fmt),
             f"Here's `{task.name}`:\n\n{code}\n\nFor example, `{first_c}` returns `{first_o}`.")
    with_examples = (pick(_ASK_EXAMPLES, task.key, "examples").format(**fmt, examples=examples),
                     f"Here's a function that does that:\n\n{code}")
    asserts = "\n".join(f"assert {c} == {o}" for c, o in calls)
    with_asserts = (pick(_ASK_ASSERTS, task.key, "asserts").format(**fmt),
                    f"Here's `{task.name}` with a few tests:\n\n```python\n{task.code}\n\n\n{asserts}\n```")
    return [plain, with_examples, with_asserts]


def run_asserts(task: Task, results) -> bool:
    """Do the asserts shown in the answer pass against the shown solution?"""
    namespace = {"__builtins__": _SAFE_BUILTINS}
    source = task.code + "\n" + "\n".join(f"assert {call(task, a)} == {o!r}" for a, o in results)
    try:
        exec(compile(source, f"<asserts {task.key}>", "exec"), namespace)  # noqa: S102 (our own code)
    except Exception:  # noqa: BLE001
        return False
    return True


_TRACE = ["What does `{call}` return, given this function?\n\n```python\n{code}\n```",
          "Here is a function:\n\n```python\n{code}\n```\n\nWhat is the result of `{call}`?",
          "If I run `{call}` with this code, what do I get?\n\n```python\n{code}\n```"]


def traces(task: Task, results) -> list[tuple[str, str]]:
    """(request, answer) pairs asking what the verified solution returns for each example."""
    out = []
    for args, result in results:
        c = call(task, args)
        user = pick(_TRACE, task.key, "trace", c).format(call=c, code=task.code)
        out.append((user, f"`{c}` returns `{result!r}`."))
    return out
