"""Small statistics helpers for the dashboard."""


def mean(values):
    """Arithmetic mean; ValueError on an empty list."""
    if not values:
        raise ValueError("mean of an empty list")
    return sum(values) / len(values)


def median(values):
    """Middle value of the sorted values (mean of the two middle ones for an even count).

    ValueError on an empty list. The input list is not modified.
    """
    if not values:
        raise ValueError("median of an empty list")
    middle = len(values) // 2
    if len(values) % 2 == 1:
        return values[middle]
    return (values[middle] + values[middle + 1]) / 2
