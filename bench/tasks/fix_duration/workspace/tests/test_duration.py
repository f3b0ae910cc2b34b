import pytest
from timetools import format_duration, parse_duration


def test_hours_and_minutes():
    assert parse_duration("1h30m") == 5400


def test_minutes_only():
    assert parse_duration("45m") == 2700


def test_all_three_units():
    assert parse_duration("1h2m3s") == 3723


def test_garbage_is_rejected():
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_format_round_trips():
    assert parse_duration(format_duration(3723)) == 3723
