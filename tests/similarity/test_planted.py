"""Done-when of issue 16: on a class of twenty homework notebooks, every planted pair ranks
above every clean pair, for code and for prose, and no pair sharing only book code or
stub code is called similar."""

from __future__ import annotations

from itertools import combinations

import pytest

from classgen import MLP_BOOK, PLANTED, STUB_USERS, planted_pairs

from grader.classroom.similarity import SimilarityReport


def _scores(report: SimilarityReport, kind: str) -> tuple[list[float], list[float]]:
    planted = planted_pairs()
    mine = [getattr(p, kind) for p in report.pairs if frozenset((p.a, p.b)) in planted]
    clean = [getattr(p, kind) for p in report.pairs if frozenset((p.a, p.b)) not in planted]
    return mine, clean


def test_every_pair_of_the_class_is_scored_once(class_report: SimilarityReport) -> None:
    assert len(class_report.extracts) == 20
    assert len(class_report.pairs) == 190
    assert len({frozenset((p.a, p.b)) for p in class_report.pairs}) == 190
    assert all(0.0 <= p.code <= 1.0 and 0.0 <= p.prose <= 1.0 for p in class_report.pairs)
    assert class_report.context.startswith("homework:d2l-ch2-5#")


@pytest.mark.parametrize("kind", ["code", "prose"])
def test_planted_pairs_rank_above_every_clean_pair(class_report: SimilarityReport, kind: str) -> None:
    planted, clean = _scores(class_report, kind)
    assert len(planted) == 5
    assert min(planted) > max(clean), f"{kind}: planted {sorted(planted)} vs clean max {max(clean):.3f}"


@pytest.mark.parametrize("kind", ["code", "prose"])
def test_planted_pairs_are_called_similar_and_clean_pairs_are_not(class_report: SimilarityReport, kind: str) -> None:
    flagged = {frozenset((p.a, p.b)) for p in class_report.pairs if kind in p.flagged}
    assert flagged == planted_pairs()


def test_sharing_only_the_stub_or_book_code_is_not_similar(class_report: SimilarityReport) -> None:
    by_pair = {frozenset((p.a, p.b)): p for p in class_report.pairs}
    for group in (STUB_USERS, MLP_BOOK):
        for a, b in combinations(group, 2):
            pair = by_pair[frozenset((a, b))]
            assert pair.code < 0.1 and not pair.flagged, (a, b, pair.code)


def test_the_disguised_copies_are_shown_as_regions_in_both_students(class_report: SimilarityReport) -> None:
    for a, b in PLANTED:
        pair = next(p for p in class_report.pairs if {p.a, p.b} == {a, b})
        assert pair.regions and pair.sentences
        assert pair.code_tokens >= 80
        for region in pair.regions:
            assert region.a_lines[0] <= region.a_lines[1] and region.b_lines[0] <= region.b_lines[1]


def test_no_group_of_three_in_a_class_of_pairs(class_report: SimilarityReport) -> None:
    assert class_report.clusters == []


def test_reordered_cells_match_cell_for_cell(class_report: SimilarityReport) -> None:
    """s04 has s03's three answer cells in reverse order, between cells of its own."""
    pair = next(p for p in class_report.pairs if {p.a, p.b} == {"s03", "s04"})
    a_cells = [r.a_unit for r in sorted(pair.regions, key=lambda r: r.a_unit)]
    b_cells = [r.b_unit for r in sorted(pair.regions, key=lambda r: r.a_unit)]
    assert len(set(a_cells)) >= 2
    assert b_cells == sorted(b_cells, reverse=True)
