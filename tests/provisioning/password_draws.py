"""The engine's generated passwords, made to start with what a test chooses: a draw that holds
a person's username comes once in some 1,600 for a three-letter one (18 places in the 20
random characters, each 2/62 likely per letter), which a test cannot wait for."""

from __future__ import annotations

import secrets

from provisioning.engine import steps


class DrawsFirst:
    """`secrets` as provisioning/engine/steps.py uses it: its first `choice`s are the
    characters of `first`, the later ones secrets' own."""

    def __init__(self, first: str) -> None:
        self.left = list(first)

    def choice(self, sequence):
        if self.left and self.left[0] in sequence:
            return self.left.pop(0)
        return secrets.choice(sequence)

    def __getattr__(self, name: str):
        return getattr(secrets, name)


def next_password_starts_with(monkeypatch, first: str) -> DrawsFirst:
    """The next password the engine draws starts with `first`; `left` says whether it did
    (empty once every character was drawn)."""
    draws = DrawsFirst(first)
    monkeypatch.setattr(steps, "secrets", draws)
    return draws
