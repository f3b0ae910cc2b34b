"""Hidden check: to_roman / from_roman against an independent table, errors included."""

from checklib import call_each, compare, passed, paths, rng

TABLE = [
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
]  # fmt: skip


def roman(n: int) -> str:
    out = ""
    for value, letters in TABLE:
        while n >= value:
            out += letters
            n -= value
    return out


def main() -> None:
    ws, _ = paths()
    r = rng()
    numbers = [1, 4, 9, 14, 40, 90, 400, 1994, 3999] + [r.randint(1, 3999) for _ in range(40)]
    got = call_each(ws, "roman", [("to_roman", [n]) for n in numbers])
    for n, result in zip(numbers, got, strict=True):
        compare(f"to_roman({n})", result, ["ok", roman(n)])
    got = call_each(ws, "roman", [("from_roman", [roman(n)]) for n in numbers])
    for n, result in zip(numbers, got, strict=True):
        compare(f"from_roman({roman(n)!r})", result, ["ok", n])
    bad_numbers = [0, -3, 4000]
    got = call_each(ws, "roman", [("to_roman", [n]) for n in bad_numbers])
    for n, result in zip(bad_numbers, got, strict=True):
        compare(f"to_roman({n})", result, ["raise", "ValueError"])
    bad_strings = ["", "IIII", "IC", "VV", "mcm", "MMMM", "ABC", "XM"]
    got = call_each(ws, "roman", [("from_roman", [s]) for s in bad_strings])
    for s, result in zip(bad_strings, got, strict=True):
        compare(f"from_roman({s!r})", result, ["raise", "ValueError"])
    passed()


main()
