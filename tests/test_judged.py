"""Judged sets (query,image,grade CSV) and the thesis measures over them, by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from glimpse.core.errors import LabelSetError
from glimpse.evaluation.judged import JudgedSet, query_measures, summarize_judged
from glimpse.evaluation.judging import JudgeItem, JudgingSession, RankedGallery, pool

# Ranked list of one model, and the grades of the judged pool for that query.
RANKED = ["a", "b", "c", "d", "e"]
GRADES = {"a": 3, "b": 0, "c": 2, "d": 1, "x": 4}  # e unjudged (counts 0); x judged but not retrieved


def test_precision_recall_f1_by_hand() -> None:
    m = query_measures(RANKED, GRADES)  # relevant = grade >= 2: {a, c, x}
    assert m is not None
    # top 3 = a b c: 2 relevant -> P = 2/3, R = 2/3, F1 = 2/3
    assert m.precision_at[3] == pytest.approx(2 / 3)
    assert m.recall_at[3] == pytest.approx(2 / 3)
    assert m.f1_at[3] == pytest.approx(2 / 3)
    # top 5: still 2 relevant -> P = 2/5, R = 2/3, F1 = 2*(2/5)(2/3)/(2/5+2/3) = 0.5
    assert m.precision_at[5] == pytest.approx(0.4)
    assert m.recall_at[5] == pytest.approx(2 / 3)
    assert m.f1_at[5] == pytest.approx(0.5)
    # k = 20 on a 5-long list: the missing places are not relevant -> P = 2/20
    assert m.precision_at[20] == pytest.approx(0.1)
    assert m.recall_at[20] == pytest.approx(2 / 3)


def test_graded_ndcg_by_hand() -> None:
    m = query_measures(RANKED, GRADES)
    assert m is not None
    # gains 2^g - 1: a 7, b 0, c 3, d 1, e 0; ideal order of judged grades 4,3,2,1,0 -> 15,7,3,1,0
    assert m.ndcg_at[1] == pytest.approx(7 / 15)
    dcg3 = 7 + 0 / math.log2(3) + 3 / 2
    idcg3 = 15 + 7 / math.log2(3) + 3 / 2
    assert m.ndcg_at[3] == pytest.approx(dcg3 / idcg3)
    dcg5 = dcg3 + 1 / math.log2(5)
    idcg5 = idcg3 + 1 / math.log2(5)
    assert m.ndcg_at[5] == pytest.approx(dcg5 / idcg5)
    assert m.ndcg_at[10] == pytest.approx(dcg5 / idcg5)


def test_relevant_grade_changes_the_relevant_set() -> None:
    m = query_measures(RANKED, GRADES, relevant_grade=3)  # relevant = {a, x}
    assert m is not None
    assert m.precision_at[3] == pytest.approx(1 / 3)
    assert m.recall_at[3] == pytest.approx(1 / 2)
    assert query_measures(RANKED, {"a": 1}) is None  # nothing relevant: no recall to average
    with pytest.raises(LabelSetError):
        query_measures(RANKED, GRADES, relevant_grade=0)


def test_summary_averages_queries_and_counts_those_without_relevant() -> None:
    rankings = {"q1": RANKED, "q2": ["x", "a"], "q3": ["a"]}
    judgments = {"q1": GRADES, "q2": {"x": 2}, "q3": {"a": 1}}
    s = summarize_judged(rankings, judgments)
    assert s.n_queries == 2 and s.n_without_relevant == 1
    # q1 P@3 = 2/3; q2 top 3 = x a (+ empty place): 1 relevant -> 1/3
    assert s.precision_at[3] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert s.recall_at[3] == pytest.approx((2 / 3 + 1) / 2)
    assert s.ndcg_at[1] == pytest.approx((7 / 15 + 1) / 2)
    # top-20 places: q1 5 (e unjudged), q2 2 (a unjudged for q2), q3 1 -> 2 of 8
    assert s.unjudged_in_top == pytest.approx(2 / 8)
    with pytest.raises(LabelSetError):
        summarize_judged({"q3": ["a"]}, {"q3": {"a": 1}})


def test_judged_set_round_trip_and_regrade(tmp_path: Path) -> None:
    path = tmp_path / "j.csv"
    js = JudgedSet.open(path)
    js.add("=dog", "a/1.jpg", 3)
    js.add("cat, sleeping", "b/2.jpg", 0)
    js.add("=dog", "a/1.jpg", 4)  # re-graded: last wins
    assert path.read_text("utf-8").splitlines()[0] == "query,image,grade"
    back = JudgedSet.open(path)
    assert back.grades == {("cat, sleeping", "b/2.jpg"): 0, ("=dog", "a/1.jpg"): 4}
    with pytest.raises(LabelSetError):
        js.add("q", "i.jpg", 5)


def test_judged_set_refuses_bad_files_and_drops_a_torn_last_row(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("query,photo,grade\r\n", encoding="utf-8")
    with pytest.raises(LabelSetError, match="header"):
        JudgedSet.open(bad)
    torn = tmp_path / "torn.csv"
    torn.write_text("query,image,grade\r\nq,a.jpg,2\r\nq,b.jpg,", encoding="utf-8")
    assert JudgedSet.open(torn).grades == {("q", "a.jpg"): 2}
    assert torn.read_bytes().endswith(b"\r\n")


def _ranked() -> RankedGallery:
    top = {"m1": {"q": ["a", "b", "c"]}, "m2": {"q": ["c", "d"]}}
    return RankedGallery(["m1", "m2"], top, {"a": "/p/a"}, 4, 0.0, 0.0)


def test_pool_is_the_union_shuffled_reproducibly() -> None:
    items = pool(_ranked(), ["q"], seed=3)
    assert sorted(i.image for i in items) == ["a", "b", "c", "d"]  # c found by both, once
    assert items == pool(_ranked(), ["q"], seed=3)
    orders = {tuple(i.image for i in pool(_ranked(), ["q"], seed=s)) for s in range(10)}
    assert len(orders) > 1  # the seed really shuffles
    assert next(i for i in items if i.image == "a").abs_path == "/p/a"


def test_judging_session_resumes_skipping_graded_pairs(tmp_path: Path) -> None:
    items = [JudgeItem("q", img, None) for img in ("a", "b", "c")]
    path = tmp_path / "j.csv"
    s = JudgingSession(JudgedSet.open(path), items)
    assert s.current == items[0]
    s.grade(4)
    s.skip()
    assert s.current == items[2] and s.done == 1
    again = JudgingSession(JudgedSet.open(path), items)
    assert again.total == 3 and again.done == 1
    assert [again.current] == [items[1]]  # a graded; b (skipped) offered again
    again.grade(0)
    again.grade(2)
    assert again.current is None
    assert JudgedSet.open(path).grades == {("q", "a"): 4, ("q", "b"): 0, ("q", "c"): 2}


def test_judged_measures_per_category() -> None:
    from glimpse.evaluation.judging import judged_measures

    top = {"m": {"dog": ["a", "b", "c"], "joy": ["b", "a", "c"], "run": ["c"]}}
    ranked = RankedGallery(["m"], top, {}, 3, 0.0, 0.0)
    judgments = {"dog": {"a": 4}, "joy": {"a": 2}, "run": {"c": 3}}
    cats = {"dog": "objects", "joy": "abstract", "run": "objects"}
    out = judged_measures(ranked, judgments, cats, relevant_grade=2)
    assert set(out) == {("m", "all"), ("m", "objects"), ("m", "abstract")}
    # joy: the one relevant photo at place 2 -> nDCG@1 = 0, nDCG@3 = (3/log2 3)/3 = 1/log2 3
    assert out[("m", "abstract")].ndcg_at[1] == 0.0
    assert out[("m", "abstract")].ndcg_at[3] == pytest.approx(1 / math.log2(3))
    # dog and run: relevant photo first -> P@3 = 1/3, nDCG@1 = 1
    assert out[("m", "objects")].n_queries == 2
    assert out[("m", "objects")].precision_at[3] == pytest.approx(1 / 3)
    assert out[("m", "objects")].ndcg_at[1] == 1.0
    assert out[("m", "all")].ndcg_at[1] == pytest.approx(2 / 3)
