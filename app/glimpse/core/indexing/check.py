"""`glimpse check`: verify a library's catalog, repair what can be repaired, say the rest.

What is checked, in order (each is one or a few SQL scans, so 100k photos take
seconds: scripts/bench_check.py):

1. the SQLite file itself (quick_check): a damaged file can't be mended from
   inside; the finding says how to rebuild it, and nothing after it runs;
2. rows whose photo, model or person is gone (every table's foreign keys);
3. every stored vector of every model: length and finite values;
4. indexed photos without a fingerprint (no pass could ever mark them read);
5. each signal's word table: rows of gone photos, and FTS5's own index check;
6. pass states: rows of passes no longer declared; photos each pass could not
   read (with the reason); photos still waiting for the model or a pass.

Repairs remove what is damaged or orphaned; what that leaves undone (a vector
to encode again, a photo to read again) is done by the pipeline, which the
front end runs afterwards (`Library.check` does, with `repair=True`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from glimpse.core.jobs import CancelToken, Progress, ProgressCallback
from glimpse.core.signals.base import SignalStage
from glimpse.core.storage.catalog import Catalog

PHASE = "check"


@dataclass
class Finding:
    message: str  # a plain sentence a user can act on
    count: int = 0
    repaired: bool = False  # mended by the check itself
    needs_index: bool = False  # mended by the next pipeline run (encode, read again)
    examples: list[str] = field(default_factory=list)  # paths, with reasons
    note: bool = False  # not damage: work still to do, or files that can't be read

    @property
    def open(self) -> bool:
        """Damage the check found and could not mend."""
        return not self.note and not self.repaired


@dataclass
class CheckReport:
    photos: int = 0
    vectors: int = 0
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    repaired: bool = False  # repairs were allowed
    cancelled: bool = False

    @property
    def sound(self) -> bool:
        """No damage left (notes of work still to do do not count)."""
        return not any(f.open for f in self.findings)

    @property
    def needs_index(self) -> bool:
        return any(f.needs_index for f in self.findings)


def check_catalog(
    catalog: Catalog,
    model_id: str,
    stages: Sequence[SignalStage],
    repair: bool = True,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> CheckReport:
    """Check one library's catalog for the model it searches with (see the module doc)."""
    start = time.monotonic()
    report = CheckReport(photos=catalog.counts().get("ok", 0), repaired=repair)
    steps = 6
    done = 0

    def step(what: str) -> bool:
        nonlocal done
        done += 1
        if progress is not None:
            elapsed = max(time.monotonic() - start, 1e-9)
            progress(Progress(PHASE, done, steps, done / elapsed, None, what))
        report.cancelled = cancel is not None and cancel.checkpoint()
        return report.cancelled

    def finish() -> CheckReport:
        report.seconds = time.monotonic() - start
        return report

    if step("the catalog file"):
        return finish()
    damage = catalog.integrity_problems()
    if damage:
        report.findings.append(Finding(
            f"The catalog file {catalog.path} is damaged ({'; '.join(damage[:3])}). It can't be "
            "mended in place: move it aside (rename it) and run `glimpse index` to rebuild it "
            "from your folders; your photos are untouched.", len(damage)))
        return finish()

    if step("rows whose photo is gone"):
        return finish()
    for where, n in catalog.orphans(repair).items():
        report.findings.append(Finding(
            f"{n} rows of {where} point to a photo, model or person that is gone"
            + ("; removed." if repair else "."), n, repaired=repair))

    if step("stored vectors"):
        return finish()
    for mid, _dim, _n in catalog.known_models():
        known = catalog.known_model(mid)
        if known is None:
            continue
        read, bad = catalog.check_vectors(known[0], repair)
        report.vectors += read
        if bad:
            report.findings.append(Finding(
                f"{bad} stored vector{'s' if bad != 1 else ''} of {mid} "
                f"{'are' if bad != 1 else 'is'} damaged (cut short, another model's, or not numbers)" + ("; removed, and those photos are encoded again." if repair
                             else ": `glimpse check` removes them so they are encoded again."),
                bad, repaired=repair, needs_index=repair and mid == model_id))
    known = catalog.known_model(model_id)
    waiting = (len(catalog.ids_needing_embedding(known[0])) if known is not None
               else report.photos)
    if waiting:
        report.findings.append(Finding(
            f"{waiting} photos are not encoded with {model_id} yet: `glimpse index` encodes them.",
            waiting, needs_index=True, note=True))

    if step("fingerprints"):
        return finish()
    unkeyed = catalog.ok_without_fingerprint(repair)
    if unkeyed:
        report.findings.append(Finding(
            f"{unkeyed} indexed photos have no fingerprint, so no signal could mark them read"
            + ("; they are scanned and encoded again." if repair else "."),
            unkeyed, repaired=repair, needs_index=repair))

    if step("word tables"):
        return finish()
    for stage in stages:
        if stage.words is None:
            continue
        table = stage.words.table
        stray = catalog.words_without_photo(table)
        if stray:
            if repair:
                catalog.sweep_words(table)
            report.findings.append(Finding(
                f"{stray} rows of {stage.noun} belong to photos that are gone"
                + ("; removed." if repair else "."), stray, repaired=repair))
        broken = catalog.word_index_damaged(table, repair)
        if broken == "rebuilt":
            report.findings.append(Finding(
                f"The word index of {stage.noun} was damaged; rebuilt from the stored words.",
                1, repaired=True))
        elif broken:
            report.findings.append(Finding(
                f"The word index of {stage.noun} could not be checked or is damaged ({broken}).", 1))

    if step("signal passes"):
        return finish()
    declared = {s.name for s in stages}
    for name, n in catalog.pass_names().items():
        if name not in declared:
            if repair:
                catalog.forget_pass(name)
            report.findings.append(Finding(
                f"{n} pass records of '{name}', which this Glimpse does not run"
                + ("; removed." if repair else "."), n, repaired=repair))
    for stage in stages:
        if stage.make_pass is not None:
            failed = catalog.pass_errors(stage.name, stage.version, stage.by_path)
            if failed:
                report.findings.append(Finding(
                    f"{len(failed)} photos could not be read for {stage.noun} (not tried again "
                    "until the file changes).", len(failed),
                    examples=[f"{path}: {why}" for path, why in failed[:10]], note=True))
        done_n, total = stage.progress_counts(catalog)
        if total > done_n:
            report.findings.append(Finding(
                f"{total - done_n} photos wait for {stage.noun}: `glimpse index` reads them.",
                total - done_n, needs_index=True, note=True))
    return finish()
