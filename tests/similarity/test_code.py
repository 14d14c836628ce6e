"""Code fingerprints: what normalisation ignores, what winnowing guarantees, what base removes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from grader.classroom.similarity.code import K, WINDOW, code_overlap, fingerprint, kgram_hashes, tokens_of, winnow
from grader.classroom.similarity.compare import compare_class
from grader.classroom.similarity.extract import Base, CodeCell, Extract, bound_names, split_statements

ANSWER = """
def fit(volts, amps, steps=200):
    r = torch.tensor(5.0, requires_grad=True)
    for _ in range(steps):
        loss = ((volts / r - amps) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            r -= 2.0 * r.grad
            r.grad.zero_()
    return r.item()
"""
DISGUISED = """
# estimate the resistance
def estimate(u, i, n=200):   # my own loop
    res = torch.tensor(5.,
                       requires_grad=True)
    for _ in range(n):
        err = ((u / res - i) ** 2).mean()
        err.backward()
        with torch.no_grad():
            res -= 2.0 * res.grad
            res.grad.zero_()
    return res.item()
"""
OTHER = """
def fit(volts, amps):
    slope = (volts * amps).sum() / (volts * volts).sum()
    return 1 / slope
"""


def _tokens(source: str) -> list[str]:
    return tokens_of(split_statements(source), bound_names(source))[0]


def _extract(student: str, *cells: str, book: bool = False) -> Extract:
    code = [CodeCell(0, i, None, book, split_statements(c)) for i, c in enumerate(cells)]
    return Extract(student, ["hw.ipynb"], code=code, bound=sorted(set().union(*map(bound_names, cells))))


def test_renamed_variables_comments_and_layout_give_the_same_tokens() -> None:
    assert _tokens(ANSWER) == _tokens(DISGUISED)


def test_library_names_numbers_and_operators_are_kept() -> None:
    tokens = _tokens("y = torch.exp(x * 2)\nz = torch.log(x - 2.0)")
    assert tokens[:3] == ["N", "=", "torch"] and "exp" in tokens and "log" in tokens
    assert tokens.count("2.0") == 2 and "*" in tokens and "-" in tokens
    assert _tokens("y = torch.exp(x)") != _tokens("y = torch.log(x)")


def test_code_python_cannot_tokenise_still_gets_tokens() -> None:
    assert tokens_of([(1, "x = (1, 2")], {"x"})[0] == ["N", "=", "(", "1.0", ",", "2.0"]


def test_winnowing_keeps_a_fingerprint_of_every_long_enough_common_run() -> None:
    shared = _tokens(ANSWER)[: K + WINDOW - 1]
    a = kgram_hashes(["a"] * 7 + shared + ["b"] * 5)
    b = kgram_hashes(["c"] * 3 + shared)
    kept_a = {int(a[p]) for p in winnow(a)}
    kept_b = {int(b[p]) for p in winnow(b)}
    assert kept_a & kept_b


def test_hashes_are_the_same_in_another_process_with_another_hash_seed() -> None:
    # CRC-32 token ids and a fixed polynomial, not Python's salted hash(): reports are reproducible
    code = ("from grader.classroom.similarity.code import kgram_hashes\n"
            "print([int(h) for h in kgram_hashes(list('abcdefghijklmn'))])")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [int(h) for h in kgram_hashes(list("abcdefghijklmn"))]
    assert len(json.loads(out.stdout)) == 14 - K + 1
    assert kgram_hashes(["N"] * (K - 1)).size == 0


def test_a_disguised_copy_scores_high_and_different_code_low() -> None:
    a, b, c = (fingerprint(_extract(s, code)) for s, code in (("a", ANSWER), ("b", DISGUISED), ("c", OTHER)))
    score, matched, regions = code_overlap(a, b, set(a.prints) & set(b.prints), regions=True)
    assert score > 0.8 and matched > 40
    assert regions and regions[0].a_lines[0] <= 3 and regions[0].a_lines[1] >= 9
    assert code_overlap(a, c, set(a.prints) & set(c.prints))[0] < 0.2


def test_reordered_cells_still_match() -> None:
    first, second = ANSWER, "for v in range(3):\n    print(fit(torch.ones(4) * v, torch.ones(4), steps=10 + v))"
    report = compare_class([_extract("a", first, second), _extract("b", second, DISGUISED)], Base())
    assert report.pairs[0].code > 0.8


def test_stub_code_given_as_base_is_nobodys_own() -> None:
    stub = "def broadcast_shape(shape_a, shape_b):\n    out = []\n    for x, y in zip(shape_a, shape_b):\n" \
           "        out.append(max(x, y))\n    return tuple(out)\n"
    base = Base(code_sources=[("stub", stub)])
    with_stub = compare_class([_extract("a", stub + "\nprint(1)"), _extract("b", stub + "\nprint(2)")], base)
    without = compare_class([_extract("a", stub + "\nprint(1)"), _extract("b", stub + "\nprint(2)")], Base())
    assert with_stub.pairs[0].code == 0.0
    assert without.pairs[0].code > 0.5


def test_code_shared_by_book_cells_of_two_students_is_book_code() -> None:
    book = "class MLPScratch(d2l.Classifier):\n    def __init__(self, num_inputs, num_outputs, lr):\n" \
           "        super().__init__()\n        self.W1 = nn.Parameter(torch.randn(num_inputs, 256) * 0.01)\n" \
           "        self.b1 = nn.Parameter(torch.zeros(256))\n"
    report = compare_class([_extract("a", book, book=True), _extract("b", book + "\n", book=True)], Base())
    assert report.pairs[0].code == 0.0
    report = compare_class([_extract("a", book, book=False), _extract("b", book, book=False)], Base())
    assert report.pairs[0].code > 0.5


def test_three_students_sharing_an_answer_are_one_group() -> None:
    students = [_extract("a", ANSWER), _extract("b", DISGUISED), _extract("c", ANSWER.replace("amps", "cur")),
                _extract("d", OTHER)]
    report = compare_class(students, Base())
    assert [(c.kind, c.students, c.pairs) for c in report.clusters] == [("code", ["a", "b", "c"], 3)]
