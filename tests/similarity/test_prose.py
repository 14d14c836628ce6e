"""Prose similarity: reworded and re-ended copies are found; shared topic words, prompts and
sentences most of the class wrote are not."""

from __future__ import annotations

from grader.classroom.similarity.compare import compare_class
from grader.classroom.similarity.extract import Base, Extract, ProseBlock

KO_ORIGINAL = ("브로드캐스팅은 크기가 1인 축을 따라 값을 복사한다. "
               "자동 미분은 모든 연산을 기록해서 역전파에 사용한다. "
               "소프트맥스 회귀는 점수를 합이 1인 확률로 변환한다는 점이 흥미로웠다. "
               "학습률이 너무 크면 손실이 발산한다는 것을 실험으로 확인했다.")
KO_COPY = ("학습률이 너무 크면 손실이 발산한다는 것을 실험으로 검증했습니다. "
           "브로드캐스팅은 크기가 1인 축을 따라 원소를 복사합니다. "
           "소프트맥스 회귀는 점수를 합이 1인 확률로 바꾼다는 점이 재미있었습니다. "
           "자동 미분은 모든 연산을 기록해서 역전파에 사용합니다.")
KO_OWN = ("텐서의 모양이 다르면 작은 쪽이 자동으로 늘어나서 더해진다. "
          "미분 값은 backward를 부르면 grad에 쌓이므로 매번 0으로 지워야 한다. "
          "확률 출력은 지수 함수를 쓰기 때문에 큰 값에서 넘칠 수 있어 최댓값을 뺀다. "
          "학습률을 0.03에서 1로 올렸더니 손실 그래프가 위로 튀었다.")
EN_ORIGINAL = ("Broadcasting surprised me because it copies values along axes of size one. The detach call breaks "
               "the graph, so no gradient flows back through u. I was confused by the in-place addition until I "
               "printed the ids and saw that they stay the same.")
EN_PARAPHRASE = ("I was puzzled by the in-place addition until I printed the ids and noticed they stay identical. "
                 "Broadcasting astonished me since it duplicates entries along axes of size one. The detach call "
                 "breaks the graph, so no gradient flows back through u.")
EN_OWN = ("Tensors of different shapes are stretched virtually before adding, which is why the sum has the larger "
          "shape. Gradients accumulate unless I zero them, and detaching is how the book keeps u constant. "
          "Updating X with += keeps its memory, unlike X = X + Y.")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in text.replace("다. ", "다.\n").replace(". ", ".\n").splitlines()]


def _student(name: str, *texts: str) -> Extract:
    return Extract(name, ["hw.ipynb"], prose=[ProseBlock(0, i, None, _sentences(t)) for i, t in enumerate(texts)])


def _prose(*students: Extract) -> dict[frozenset[str], float]:
    return {frozenset((p.a, p.b)): p.prose for p in compare_class(list(students), Base()).pairs}


def test_korean_copy_with_other_endings_and_order_is_found() -> None:
    scores = _prose(_student("a", KO_ORIGINAL), _student("b", KO_COPY), _student("c", KO_OWN))
    assert scores[frozenset("ab")] >= 0.4
    assert scores[frozenset("ac")] < 0.15 and scores[frozenset("bc")] < 0.15


def test_english_paraphrase_is_found_and_own_words_on_the_same_topic_are_not() -> None:
    scores = _prose(_student("a", EN_ORIGINAL), _student("b", EN_PARAPHRASE), _student("c", EN_OWN))
    assert scores[frozenset("ab")] >= 0.4
    assert scores[frozenset("ac")] < 0.15 and scores[frozenset("bc")] < 0.15


def test_matched_sentences_pair_each_sentence_with_its_counterpart() -> None:
    report = compare_class([_student("a", EN_ORIGINAL), _student("b", EN_PARAPHRASE)], Base())
    pair = report.pairs[0]
    doc_a, doc_b = report.docs[pair.ia], report.docs[pair.ib]
    matched = {doc_a.sentences[m.a][:12]: doc_b.sentences[m.b][:12] for m in pair.sentences}
    assert matched == {"The detach c": "The detach c", "I was confus": "I was puzzle"}


def test_a_sentence_most_of_the_class_wrote_is_nobodys_own() -> None:
    template = "In this section I ran every cell of the book and read the outputs carefully."
    own = [EN_OWN, KO_OWN, "Pandas fills the missing room counts, then get_dummies adds a column per roof type.",
           "The chain rule multiplies local derivatives along the graph from the loss back to x.",
           "My softmax overflowed at 1000 until I subtracted the row maximum first.",
           "Fashion-MNIST images are 28 by 28 but the book resizes them to 32 by 32."]
    students = [_student(f"s{i}", template, own[i]) for i in range(6)]
    report = compare_class(students, Base())
    assert report.removed["prose_common"] == 1
    assert max(p.prose for p in report.pairs) < 0.2


def test_a_verbatim_copy_scores_one() -> None:
    assert _prose(_student("a", EN_ORIGINAL), _student("b", EN_ORIGINAL))[frozenset("ab")] > 0.99
