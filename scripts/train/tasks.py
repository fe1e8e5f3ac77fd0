"""The synthetic reasoning tasks the bundled models learn, written as R1 traces.

Each generator draws a plain-English question and writes the working the way a careful student would:
numbers split into place values, one column per line, carries and borrows named, a running result that
grows one digit per line, then `\\boxed{answer}`. The working is explicit on purpose: every step only
copies something a few lines up or applies one small fact (a one-digit sum or product), which a model of a
few million parameters can learn in an hour on a CPU.

Operands are split between training and evaluation by a fixed hash of each number, so no number that
appears as an operand in the held-out set ever appears as an operand in training (`split` below).
"""

import random

PLACES = ["ones", "tens", "hundreds", "thousands", "ten thousands", "hundred thousands"]


def held_out(n):
    """True for about one number in eight: those operands belong to the held-out set only."""
    h = (n * 2654435761 + 40503) & 0xFFFFFFFF
    return (h >> 29) == 5


def draw(rng, lo, hi, split):
    """A number in [lo, hi] whose held-out flag matches the split ("train" or "heldout")."""
    want = split == "heldout"
    while True:
        n = rng.randint(lo, hi)
        if held_out(n) == want:
            return n


def digits_rev(n):
    """The digits of n, ones first."""
    return [int(c) for c in reversed(str(n))]


def place_line(n):
    """'4821 is 4 thousands, 8 hundreds, 2 tens and 1 ones.'"""
    ds = str(n)
    parts = [f"{d} {PLACES[len(ds) - 1 - i]}" for i, d in enumerate(ds)]
    if len(parts) == 1:
        return f"{n} is {parts[0]}."
    return f"{n} is {', '.join(parts[:-1])} and {parts[-1]}."


def add_working(a, b):
    """Column addition of a + b, ones first, with a running result. Returns (lines, sum)."""
    lines = [place_line(a), place_line(b)]
    da, db = digits_rev(a), digits_rev(b)
    carry, so_far = 0, ""
    for i in range(max(len(da), len(db))):
        x = da[i] if i < len(da) else 0
        y = db[i] if i < len(db) else 0
        s = x + y + carry
        so_far = str(s % 10) + so_far
        lines.append(f"{PLACES[i]}: {x}+{y}+{carry}={s}, carry {s // 10}, so far {so_far}.")
        carry = s // 10
    if carry:
        so_far = str(carry) + so_far
        lines.append(f"The last carry {carry} goes in front, so far {so_far}.")
    assert int(so_far) == a + b
    return lines, a + b


def sub_working(a, b):
    """Column subtraction of a - b (a >= b), ones first, borrowing. Returns (lines, difference).

    Each column takes 10 + top - bottom, one fact, and its size decides the borrow: under 10 means the column
    borrowed (the digit is that number), 10 or more means it did not (the digit is its last one). A model then
    reads the decision off the number it has just written instead of comparing two digits, and learns one
    table of a hundred facts instead of a comparison table and two subtraction tables. The difference is
    restated without its leading zeros only when it has some: a restatement every time taught the deepseek2
    model to skip digits while copying, and it dropped one of two equal digits (2440 became 240)."""
    assert a >= b
    lines = [place_line(a), place_line(b)]
    da, db = digits_rev(a), digits_rev(b)
    borrow, so_far = 0, ""
    for i in range(len(da)):
        x = da[i]
        y = db[i] if i < len(db) else 0
        top = x - borrow
        t = 10 + top - y  # top is -1 where a 0 had to lend to the column before: "10-1-8=1"
        d = t if t < 10 else t - 10
        so_far = str(d) + so_far
        size = "under 10 so borrow 1" if t < 10 else "10 or more so borrow 0"
        lines.append(f"{PLACES[i]}: top {x}-{borrow}={top}, bottom {y}, 10{top:+d}-{y}={t}, {size}, digit {d}, "
                     f"so far {so_far}.")
        borrow = 1 if t < 10 else 0
    result = int(so_far)
    if so_far != str(result):
        lines.append(f"Without leading zeros, the difference is {result}.")
    assert result == a - b
    return lines, result


def mul_digit_working(a, d):
    """a × d for one digit d, ones first: each digit's product from the times table, then the carry added.
    Returns (lines, product)."""
    lines = [f"{a} × {d}:"]
    carry, so_far = 0, ""
    da = digits_rev(a)
    for i, x in enumerate(da):
        p = x * d + carry
        step = f"{x}×{d}={x * d}, {x * d}+{carry}={p}"
        if i == len(da) - 1:
            so_far = str(p) + so_far
            lines.append(f"{step}, so far {so_far}.")
        else:
            so_far = str(p % 10) + so_far
            lines.append(f"{step}, carry {p // 10}, so far {so_far}.")
            carry = p // 10
    result = int(so_far)
    if so_far != str(result):
        lines.append(f"Without the leading zeros, so far {result}.")
    assert result == a * d
    return lines, result


def mul_working(a, b):
    """a × b for a two-digit b: a × ones + a × tens × 10, then the column sum. Returns (lines, product)."""
    ones, tens = b % 10, b // 10
    lines = [f"{b} is {tens} tens and {ones} ones, so {a} × {b} = {a} × {ones} + {a} × {tens} × 10."]
    w1, p1 = mul_digit_working(a, ones)
    w2, p2 = mul_digit_working(a, tens)
    lines += w1 + w2
    lines.append(f"{a} × {tens} × 10 = {p2} × 10 = {p2 * 10}.")
    lines.append(f"Now add {p1} + {p2 * 10}.")
    w3, total = add_working(p1, p2 * 10)
    lines += w3
    assert total == a * b
    return lines, total


def scale_working(q, factor):
    """q × factor where factor is 10, 100, 1000 (append zeros) or a one- or two-digit number."""
    if factor in (10, 100, 1000):
        zeros = len(str(factor)) - 1
        return [f"Multiplying by {factor} appends {zeros} zero{'s' if zeros > 1 else ''}: "
                f"{q} × {factor} = {q * factor}."], q * factor
    if factor < 10:
        return mul_digit_working(q, factor)
    if factor % 10 == 0:
        w, p = mul_digit_working(q, factor // 10)
        return w + [f"{q} × {factor} = {p} × 10 = {p * 10}."], p * 10
    return mul_working(q, factor) if q >= 10 else mul_working(factor, q)


# (big unit, small unit, how many small in one big)
CONVERSIONS = [
    ("kilometers", "meters", 1000), ("meters", "centimeters", 100), ("centimeters", "millimeters", 10),
    ("kilograms", "grams", 1000), ("liters", "milliliters", 1000), ("hours", "minutes", 60),
    ("minutes", "seconds", 60), ("days", "hours", 24), ("weeks", "days", 7), ("feet", "inches", 12),
    ("yards", "feet", 3), ("pounds", "ounces", 16), ("dollars", "cents", 100), ("years", "months", 12),
]


def task_add(rng, split):
    a, b = draw(rng, 100, 9999, split), draw(rng, 100, 9999, split)
    q = rng.choice(["What is {a} + {b}?", "Compute {a} + {b}.", "What is the sum of {a} and {b}?",
                    "Add {a} and {b}.", "{a} + {b} = ?"]).format(a=a, b=b)
    w, r = add_working(a, b)
    return q, [f"We need {a} + {b}. Add column by column, starting with the ones."] + w, r, f"{a} + {b} = {r}"


def task_sub(rng, split):
    a, b = draw(rng, 100, 9999, split), draw(rng, 100, 9999, split)
    if a < b:
        a, b = b, a
    q = rng.choice(["What is {a} - {b}?", "Compute {a} - {b}.", "What is {a} minus {b}?",
                    "Subtract {b} from {a}.", "{a} - {b} = ?"]).format(a=a, b=b)
    w, r = sub_working(a, b)
    return q, [f"We need {a} - {b}. Subtract column by column, starting with the ones."] + w, r, f"{a} - {b} = {r}"


def task_mul(rng, split):
    a, b = draw(rng, 100, 999, split), draw(rng, 10, 99, split)
    op = rng.choice(["×", "*", "times"])
    q = rng.choice(["What is {a} {op} {b}?", "Compute {a} {op} {b}.", "What is the product of {a} and {b}?",
                    "Multiply {a} by {b}."]).format(a=a, b=b, op=op)
    w, r = mul_working(a, b)
    return q, [f"We need {a} × {b}."] + w, r, f"{a} × {b} = {r}"


def task_convert(rng, split):
    big, small, factor = rng.choice(CONVERSIONS)
    n = draw(rng, 2, 99, split)
    q = rng.choice(["How many {small} are in {n} {big}?", "Convert {n} {big} to {small}.",
                    "{n} {big} is how many {small}?"]).format(n=n, big=big, small=small)
    w, r = scale_working(n, factor)
    lead = f"One of the {big} is {factor} {small}, so {n} {big} is {n} × {factor} {small}."
    return q, [lead] + w, r, f"{n} {big} = {r} {small}"


NAMES = ["Tom", "Anna", "Ravi", "Mei", "Lucas", "Sara", "Omar", "Nina"]
ITEMS = ["apples", "books", "stamps", "marbles", "coins", "cards", "shells", "pencils"]


# The third number of a word problem is used only after the first step's working, a few hundred tokens after
# the question. The deepseek2 model copied it wrong there almost always (under teacher forcing too), while
# it copies the first two, used at once, without fault. So the first line restates it, near the question,
# and the line that uses it repeats the words that come before it ("gives away 129", "found 828 more",
# "outside are 501 more"): an anchor to copy after, in the question or the first line.
def task_word(rng, split):
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    kind = rng.randrange(3)
    if kind == 0:  # has a, gets b, gives c
        a, b = draw(rng, 100, 999, split), draw(rng, 100, 999, split)
        c = draw(rng, 100, a + b, split)
        q = (f"{name} has {a} {item}. {name} gets {b} more and then gives away {c}. "
             f"How many {item} does {name} have now?")
        w1, s = add_working(a, b)
        w2, r = sub_working(s, c)
        lines = ([f"First {name} has {a} + {b} {item}, then gives away {c}."] + w1
                 + [f"So {name} has {s} {item}, then gives away {c}: {s} - {c}."] + w2)
        return q, lines, r, f"{name} has {r} {item}"
    if kind == 1:  # has a, gives b, gets c
        a = draw(rng, 200, 999, split)
        b = draw(rng, 100, a, split)
        c = draw(rng, 100, 999, split)
        q = (f"{name} had {a} {item}, gave {b} to a friend, then found {c} more. "
             f"How many {item} does {name} have?")
        w1, s = sub_working(a, b)
        w2, r = add_working(s, c)
        lines = ([f"First {name} has {a} - {b} {item}, then found {c} more."] + w1
                 + [f"So {name} had {s} {item}, then found {c} more: {s} + {c}."] + w2)
        return q, lines, r, f"{name} has {r} {item}"
    # n boxes of k items, plus m loose
    n, k = draw(rng, 10, 99, split), draw(rng, 100, 999, split)
    m = draw(rng, 100, 999, split)
    q = (f"{name} has {n} boxes with {k} {item} in each box, and {m} more {item} outside the boxes. "
         f"How many {item} does {name} have in all?")
    w1, s = mul_working(k, n)
    w2, r = add_working(s, m)
    lines = ([f"The boxes hold {k} × {n} {item}; outside are {m} more."] + w1
             + [f"So the boxes hold {s}; outside are {m} more: {s} + {m}."] + w2)
    return q, lines, r, f"{name} has {r} {item} in all"


TASKS = {"add": task_add, "sub": task_sub, "mul": task_mul, "convert": task_convert, "word": task_word}
# How often each family is drawn in training: the long multi-step ones more often.
TRAIN_MIX = {"add": 2, "sub": 2, "mul": 3, "convert": 1, "word": 3}


def sample(rng, split, family=None):
    """One problem: dict(family, question, reasoning, answer, final) with reasoning as one string."""
    if family is None:
        fams = list(TRAIN_MIX)
        family = rng.choices(fams, weights=[TRAIN_MIX[f] for f in fams])[0]
    q, lines, answer, final = TASKS[family](rng, split)
    return {"family": family, "question": q, "reasoning": "\n".join(lines), "answer": str(answer),
            "final": f"{final}, so the answer is \\boxed{{{answer}}}."}


if __name__ == "__main__":
    rng = random.Random(1)
    for fam in TASKS:
        s = sample(rng, "train", fam)
        print(s["question"])
        print("<think>\n" + s["reasoning"] + "\n</think>\n\n" + s["final"])
        print()
