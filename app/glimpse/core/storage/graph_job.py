"""Building (or loading) a vector index's graph tier in the background.

The exact tier answers every search meanwhile; the job attaches the graph when
it is ready, and the index switches to it (VectorIndex.attach_graph). Progress
and cancelling follow core/jobs.py: phase "graph", checked between chunks.

The graph file is reused only if its fingerprint (the model and every stored
label and float16 vector) and checksum match; anything else (a photo added
while the app was closed, a truncated or flipped file, a save killed midway)
makes the job rebuild it.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from glimpse.core.jobs import CancelToken, Progress
from glimpse.core.storage import graph_index
from glimpse.core.storage.graph_index import BuildCancelled, Graph
from glimpse.core.storage.vector_index import VectorIndex

log = logging.getLogger(__name__)


class GraphJob:
    """One model's graph: loaded or built on a thread, then attached; saved again
    at `close` if photos changed since."""

    def __init__(self, index: VectorIndex, path: Path, model_id: str, threads: int | None = None) -> None:
        self.index = index
        self.path = Path(path)
        self.model_id = model_id
        self.threads = threads
        self.cancel = CancelToken()
        self.progress: Progress | None = None
        self.error: str | None = None
        self.source: str | None = None  # "file" or "built", once attached
        self.recall: float | None = None
        self._saved_generation: int | None = None
        self._thread = threading.Thread(target=self._run, name=f"graph-{model_id}", daemon=True)

    def start(self) -> GraphJob:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """True when the job has finished (attached, failed or cancelled)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def describe(self) -> str:
        """Where the graph tier stands, in a sentence for a status bar."""
        if self.running:
            p = self.progress
            if p is None or not p.total:
                return "Fast search index: preparing (searches are exact meanwhile)"
            return (f"Fast search index: building {100 * p.done // p.total}% "
                    "(searches are exact meanwhile)")
        if self.error is not None:
            return "Searches are exact: the fast search index could not be built"
        if self.index.graph is not None:
            return "Fast search index in use"
        if self.recall is not None:
            return (f"Searches are exact: the fast search index found {self.recall:.1%} of "
                    "the exact results in its check")
        return "Searches are exact"

    def _report(self, progress: Progress) -> None:
        self.progress = progress

    def _run(self) -> None:
        started = time.monotonic()
        try:
            _remove_stale_temporaries(self.path)
            labels = self.index.snapshot_for_graph()
            generation = self.index.generation
            fingerprint = graph_index.fingerprint(self.model_id, self.index.sorted_chunks())
            graph = Graph.load(self.path, fingerprint, self.index.params)
            if graph is not None:
                self.source = "file"
            else:
                graph = graph_index.build(labels, self.index.read_present, self.index.params,
                                          self._report, self.cancel, self.threads)
                self.source = "built"
                if self.cancel.cancelled:
                    return
                graph.save(self.path, fingerprint)
            self._saved_generation = generation
            self.recall = self.index.attach_graph(graph)
            log.info("graph for %s %s in %.1f s (recall check %.3f)", self.model_id,
                     "loaded" if self.source == "file" else "built", time.monotonic() - started,
                     self.recall)
        except BuildCancelled:
            self.index.detach_graph()
        except Exception as exc:  # the exact tier keeps answering: report, don't crash
            self.index.detach_graph()
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("graph for %s not built (%s); searches stay exact", self.model_id, self.error)

    def close(self) -> None:
        """Stop a build; save an attached graph that photos changed since its save
        (so the next start loads it instead of rebuilding)."""
        self.cancel.cancel()
        self.wait()
        graph = self.index.graph
        if graph is None or self._saved_generation == self.index.generation:
            return
        try:
            with self.index.lock:
                fingerprint = graph_index.fingerprint(self.model_id, self.index.sorted_chunks())
                graph.save(self.path, fingerprint)
                self._saved_generation = self.index.generation
        except Exception as exc:  # a graph not saved is rebuilt next time: never fail a close
            log.warning("graph for %s not saved (%s)", self.model_id, exc)


def _remove_stale_temporaries(path: Path) -> None:
    """A save killed midway leaves its temporary file (the graph itself is intact).
    Only this graph's, and only old ones: another process may be saving it now."""
    if not path.parent.is_dir():
        return
    for file in path.parent.glob(f".{path.name}*.tmp"):
        try:
            if time.time() - file.stat().st_mtime > 3600:
                file.unlink(missing_ok=True)
        except OSError:
            pass
