"""Explanations are written when first read, once, and read like a dict."""

from __future__ import annotations

from optimizer.explain import Explanations


def test_explanations_are_written_once_on_first_read() -> None:
    writes: list[int] = []

    def write() -> dict[str, str]:
        writes.append(1)
        return {"A/1": "at its own or the car's maximum", "B/1": "limited by node grid"}

    texts = Explanations(write)
    assert writes == []
    assert texts["A/1"] == "at its own or the car's maximum"
    assert dict(texts) == {"A/1": "at its own or the car's maximum", "B/1": "limited by node grid"}
    assert len(texts) == 2
    assert "C/1" not in texts
    assert writes == [1]
