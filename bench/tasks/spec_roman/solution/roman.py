TABLE = [
    (1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
    (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"),
]  # fmt: skip


def to_roman(n):
    if not isinstance(n, int) or not 1 <= n <= 3999:
        raise ValueError(n)
    out = ""
    for value, letters in TABLE:
        while n >= value:
            out += letters
            n -= value
    return out


def from_roman(s):
    for n in range(1, 4000):
        if to_roman(n) == s:
            return n
    raise ValueError(s)
