"""Roman numerals for the chapter headings."""


def to_roman(n):
    """The canonical Roman numeral for 1 <= n <= 3999; ValueError otherwise."""
    raise NotImplementedError


def from_roman(s):
    """The number for a canonical upper-case Roman numeral; ValueError for anything else."""
    raise NotImplementedError
