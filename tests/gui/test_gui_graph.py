"""The graph tier's background build, shown in the status bar (core/storage/graph_job.py)."""

from __future__ import annotations


class _Job:
    def __init__(self, text: str) -> None:
        self.text = text

    def describe(self) -> str:
        return self.text


def test_the_status_bar_shows_the_graph_build_and_how_it_ended(make_window, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    window = make_window()
    c = window.controller
    assert c._graph_timer.isActive()  # polled once the library is ready
    job = _Job("Fast search index: building 40% (searches are exact meanwhile)")
    monkeypatch.setattr(c.library, "graph_job", lambda spec=None: job)
    c.poll_graph()
    assert window.graph_label.isVisible() and window.graph_label.text() == job.text
    job.text = "Fast search index in use"
    c.poll_graph()
    assert not window.graph_label.isVisible()
    assert window.statusBar().currentMessage() == "Fast search index in use"
    monkeypatch.setattr(c.library, "graph_job", lambda spec=None: None)  # a small library: nothing
    c.poll_graph()
    assert not window.graph_label.isVisible()
