"""Widgets of the session screen: the transcript and its cards, the task input."""
