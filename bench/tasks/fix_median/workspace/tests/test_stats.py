import pytest
from stats import mean, median


def test_mean_of_three_values():
    assert mean([1, 2, 6]) == 3


def test_median_of_an_odd_count_is_the_middle_value():
    assert median([5, 1, 3]) == 3


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values():
    assert median([7, 1, 9, 3]) == 5


def test_median_does_not_modify_its_input():
    values = [3, 1, 2]
    median(values)
    assert values == [3, 1, 2]


def test_median_of_an_empty_list_raises():
    with pytest.raises(ValueError):
        median([])
