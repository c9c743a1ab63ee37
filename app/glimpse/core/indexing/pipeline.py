"""The indexing pipeline, declared once and run the same way by every front end.

    scan -> encode (meaning) -> every signal of core/signals/registry.py, in its order

`glimpse index`, `glimpse watch`, the app, self-test and `glimpse ocr` /
`glimpse faces` all go through Library.index, which calls run() here, so a
photo that arrives gets the same treatment whichever front end sees it first.
Each stage is declared with the verb front ends show while it runs and the
switch that turns it off (`--no-ocr`); the CLI's flags, the progress lines of
the CLI and the app and `glimpse status` are made from these declarations.

Order is priority: meaning first (a photo is searchable as soon as it has a
vector), then the cheap signals, then the slow ones. Signals that read pixels
and come one after another run as one group over the photos, sharing one
decode of each photo (core/indexing/passes.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from glimpse.core.encoding.encoder import ModelSpec
from glimpse.core.errors import GlimpseError
from glimpse.core.indexing.encode import EncodeReport
from glimpse.core.indexing.passes import PHASE_JOIN, run_passes
from glimpse.core.indexing.scan import ScanReport
from glimpse.core.jobs import CancelToken, ProgressCallback, YieldingToken
from glimpse.core.signals.base import CatalogPass, Engines, PassReport, SignalStage
from glimpse.core.signals.registry import signal_stages, switch_of
from glimpse.core.storage.catalog import Catalog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stage:
    name: str  # the phase its progress reports carry
    verb: str  # "Encoding" 12 of 300 photos
    unit: str  # what it counts: "files" or "photos"
    switch: str | None = None  # `--no-<switch>` leaves it out; None: always runs
    signal: SignalStage | None = None  # None for the pipeline's own two stages

    @property
    def background(self) -> bool:
        """Runs after meaning; yields to newly arrived photos (the app restarts it)."""
        return self.signal is not None


SCAN = Stage("scan", "Scanning", "files")
ENCODE = Stage("encode", "Encoding", "photos")


def stages() -> tuple[Stage, ...]:
    """Every stage, in the order it runs."""
    return (SCAN, ENCODE) + tuple(
        Stage(s.name, s.verb, "photos", switch_of(s.name), s) for s in signal_stages()
    )


def switches() -> list[Stage]:
    """The stages a user can turn off, for `--no-<switch>` flags and Settings."""
    return [s for s in stages() if s.switch is not None]


def stage_of(phase: str) -> Stage | None:
    return next((s for s in stages() if s.name == phase), None)


def describe(phase: str) -> tuple[str, str]:
    """(verb, unit) of a progress phase, also of a group ("ocr+faces")."""
    found = [stage_of(name) for name in phase.split(PHASE_JOIN)]
    known = [s for s in found if s is not None]
    if not known:
        return "Indexing", "photos"
    verbs = [known[0].verb] + [s.verb[:1].lower() + s.verb[1:] for s in known[1:]]
    if len(verbs) > 1 and all(v.endswith(" in") for v in verbs):
        # "Reading text in" + "Looking for faces in": "Reading text and looking for faces in"
        bare = [v[: -len(" in")] for v in verbs]
        return ", ".join(bare[:-1]) + " and " + bare[-1] + " in", known[0].unit
    return ", ".join(verbs), known[0].unit


def is_background(phase: str) -> bool:
    """Whether a progress phase belongs to the signals that follow meaning."""
    return any(s is not None and s.background for s in map(stage_of, phase.split(PHASE_JOIN)))


@dataclass
class IndexReport:
    scan: ScanReport = field(default_factory=ScanReport)
    encode: EncodeReport = field(default_factory=EncodeReport)
    passes: dict[str, PassReport] = field(default_factory=dict)  # by signal name, in run order
    yielded: bool = False  # the signals stopped for newer photos (pipeline.run's yield_to)

    @property
    def cancelled(self) -> bool:
        return self.encode.cancelled or any(p.cancelled for p in self.passes.values())


class Host(Protocol):
    """What the pipeline needs of a library (core/library.py is the one host)."""

    catalog: Catalog
    engines: Engines

    def sync(
        self, progress: ProgressCallback | None = None, cancel: CancelToken | None = None
    ) -> ScanReport: ...

    def encode(
        self,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        spec: ModelSpec | None = None,
        batch_size: int | None = None,
        workers: int | None = None,
    ) -> EncodeReport: ...

    def model_key(self, spec: ModelSpec | None = None) -> int: ...


def selected(skip: Collection[str] = (), only: Collection[str] | None = None) -> list[Stage]:
    """The stages a run does: all, less those switched off, or only those named."""
    unknown = set(skip) - {s.switch for s in switches()}
    if unknown:
        raise GlimpseError(f"No stage can be turned off as {', '.join(sorted(unknown))}.")
    return [s for s in stages()
            if (only is None or s.name in only) and (s.switch is None or s.switch not in skip)]


def run(
    host: Host,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    spec: ModelSpec | None = None,
    skip: Collection[str] = (),
    only: Collection[str] | None = None,
    batch_size: int | None = None,
    workers: int | None = None,
    before_stage: Callable[[Stage], None] | None = None,
    yield_to: Callable[[], bool] | None = None,
) -> IndexReport:
    """Run the selected stages in order; a cancel stops after the batch in flight.
    `before_stage` hears of each stage as it starts (the CLI names the model it loads).
    `yield_to`: says when newer photos wait (a watcher's queue); the background
    stages (the signals after meaning) then stop after the photo in hand, so
    the caller's next run makes the new photos searchable by meaning first;
    `report.yielded` says so, and the signals resume where they stopped.

    A signal that fails as a whole (its model cannot load) is reported in its
    PassReport.error and the others still run: photos stay searchable by meaning."""
    chosen = selected(skip, only)
    report = IndexReport()
    def starting(stage: Stage) -> None:
        if before_stage is not None:
            before_stage(stage)

    if SCAN in chosen:
        starting(SCAN)
        report.scan = host.sync(progress, cancel)
        if cancel is not None and cancel.cancelled:
            report.encode = EncodeReport(cancelled=True)
            return report
    if ENCODE in chosen:
        starting(ENCODE)
        report.encode = host.encode(progress, cancel, spec, batch_size, workers)
        if report.encode.cancelled:
            return report
    signals = [s for s in chosen if s.signal is not None]
    if signals:
        token = YieldingToken(cancel, yield_to) if yield_to is not None else cancel
        report.passes = run_signals(host, signals, progress, token, spec, starting)
        report.yielded = isinstance(token, YieldingToken) and token.yielded
    return report


def run_signals(
    host: Host,
    signals: Sequence[Stage],
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    spec: ModelSpec | None,
    starting: Callable[[Stage], None] = lambda stage: None,
) -> dict[str, PassReport]:
    """Each signal in order; consecutive pixel readers as one group (one decode a photo)."""
    after_key = host.model_key(spec)
    reports: dict[str, PassReport] = {}
    i = 0
    while i < len(signals):
        if cancel is not None and cancel.cancelled:
            break
        group = [signals[i]]
        while i + len(group) < len(signals) and _shares_decode(group[-1], signals[i + len(group)]):
            group.append(signals[i + len(group)])
        i += len(group)
        for stage in group:
            starting(stage)
        reports.update(_run_group(host, [s.signal for s in group if s.signal], progress,
                                  cancel, after_key))
    return reports


def _shares_decode(a: Stage, b: Stage) -> bool:
    return all(s.signal is not None and s.signal.reads == "pixels" and s.signal.make_pass
               is not None for s in (a, b))


def _run_group(
    host: Host,
    group: list[SignalStage],
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    after_key: int,
) -> dict[str, PassReport]:
    out: dict[str, PassReport] = {}
    passes: list[tuple[SignalStage, CatalogPass]] = []
    for signal in group:
        try:
            if signal.run is not None:
                out[signal.name] = signal.run(host.catalog, progress, cancel)
            elif signal.make_pass is not None:
                passes.append((signal, signal.make_pass(host.catalog, host.engines)))
        except GlimpseError as exc:
            log.warning("%s: %s", signal.noun, exc)
            out[signal.name] = PassReport(signal.name, error=str(exc))
    if passes:
        try:
            done = run_passes(host.catalog, [p for _, p in passes], progress, cancel, after_key)
        except GlimpseError as exc:  # a model that cannot load: say so, keep the rest
            log.warning("%s: %s", " and ".join(s.noun for s, _ in passes), exc)
            done = {p.name: PassReport(p.name, error=str(exc)) for _, p in passes}
        out.update(done)
    for signal in group:
        report = out.get(signal.name)
        if signal.after is not None and report is not None and report.error is None \
                and (report.done or report.failed):  # nothing new read: nothing to follow up
            signal.after(host.catalog)
    return {s.name: out[s.name] for s in group if s.name in out}
