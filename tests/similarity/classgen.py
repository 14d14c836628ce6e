"""A synthetic class of homework notebooks with planted similar pairs (for tests and the benchmark).

Every student runs the book's cells (``tests/homework/book.py``) and writes a discussion
per section; own code and own prose come from seeded generators (random torch-like
programs, sentences from a grammar in English or Korean), so independent students
share no more than real independent students would. Five pairs are planted:

* ``s01``/``s02``: an answer copied with every variable renamed and other comments;
* ``s03``/``s04``: an answer in three cells copied in another cell order, comments changed;
* ``s05``/``s06``: an answer renamed and reformatted (calls broken over lines, spacing);
* ``s07``/``s08``: one answer copied (renamed) among a lot of own code;
* ``s09``/``s10``: an answer's two cells merged into one, renamed, one statement added;

and the copier's discussions are the original's, reworded: synonyms, sentence order,
Korean endings (``-한다`` / ``-합니다``). ``s11``-``s16`` also hold the released
broadcasting stub (unchanged, or with their own body), ``s17``-``s19`` the only copies of
section 5.2's book code. Nothing else is shared.
"""

from __future__ import annotations

import ast
import io
import keyword
import random
import sys
import tokenize
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "homework"))

from book import BOOK, TITLES  # noqa: E402
from nbfactory import code, md, notebook, write  # noqa: E402

REPO = HERE.parents[1]
PLANTED = [("s01", "s02"), ("s03", "s04"), ("s05", "s06"), ("s07", "s08"), ("s09", "s10")]
STUB_USERS = ("s11", "s12", "s13", "s14", "s15", "s16")
MLP_BOOK = ("s17", "s18", "s19")

ANSWERS = {
    "broadcast": ["""
def broadcast_result(first, second):
    # walk both shapes from the right, padding the shorter one with ones
    width = max(len(first), len(second))
    padded_a = (1,) * (width - len(first)) + tuple(first)
    padded_b = (1,) * (width - len(second)) + tuple(second)
    result = []
    for left, right in zip(padded_a, padded_b):
        if left != right and 1 not in (left, right):
            raise ValueError(f"axis sizes {left} and {right} clash")
        result.append(max(left, right))
    return tuple(result)
""", """
checks = [((2, 3, 1), (2, 1, 3)), ((4, 1), (3,)), ((), (5, 2))]
for pair in checks:
    print(pair, broadcast_result(*pair))
"""],
    "ohm": ["""
voltages = torch.linspace(0.5, 12.0, 40)
true_resistance = 47.0
currents = voltages / true_resistance + 0.002 * torch.randn(40)
""", """
resistance = torch.tensor(10.0, requires_grad=True)
optimizer = torch.optim.SGD([resistance], lr=5.0)
history = []
for step in range(300):
    optimizer.zero_grad()
    predicted = voltages / resistance
    loss = ((predicted - currents) ** 2).mean()
    loss.backward()
    optimizer.step()
    history.append(loss.item())
""", """
plt.plot(history)
plt.yscale('log')
plt.title(f'fitted R = {resistance.item():.2f} ohm')
plt.show()
"""],
    "softmax": ["""
def stable_softmax(logits):
    shifted = logits - logits.max(dim=1, keepdim=True).values
    exps = torch.exp(shifted)
    return exps / exps.sum(dim=1, keepdim=True)

def my_cross_entropy(probs, labels, eps=1e-9):
    picked = probs[torch.arange(len(labels)), labels]
    return -torch.log(picked + eps).mean()

scores = torch.tensor([[1000.0, 1001.0, 999.0], [3.0, -2.0, 0.5]])
print(stable_softmax(scores), my_cross_entropy(stable_softmax(scores), torch.tensor([1, 0])))
"""],
    "sine": ["""
grid = torch.linspace(-2 * torch.pi, 2 * torch.pi, 256, requires_grad=True)
values = torch.sin(grid)
values.sum().backward()
fig, axis = plt.subplots(figsize=(6, 3))
axis.plot(grid.detach(), values.detach(), label='sin(x)')
axis.plot(grid.detach(), grid.grad, linestyle='--', label='autograd derivative')
axis.axhline(0, color='gray', linewidth=0.5)
axis.legend(loc='upper right')
plt.show()
"""],
    "activations": ["""
from sklearn.datasets import make_moons
points, targets = make_moons(n_samples=600, noise=0.25, random_state=3)
points = torch.tensor(points, dtype=torch.float32)
targets = torch.tensor(targets)
""", """
results = {}
for name, act in [('relu', nn.ReLU()), ('sigmoid', nn.Sigmoid()), ('tanh', nn.Tanh())]:
    net = nn.Sequential(nn.Linear(2, 32), act, nn.Linear(32, 2))
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    for epoch in range(200):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(net(points), targets)
        loss.backward()
        opt.step()
    results[name] = (net(points).argmax(1) == targets).float().mean().item()
print(results)
"""],
}
PLANTED_ANSWER = {"s01": "broadcast", "s03": "ohm", "s05": "softmax", "s07": "sine", "s09": "activations"}
OWN_BODIES = {
    "s15": "    out = []\n    a, b = list(shape_a)[::-1], list(shape_b)[::-1]\n"
           "    for i in range(max(len(a), len(b))):\n"
           "        x = a[i] if i < len(a) else 1\n        y = b[i] if i < len(b) else 1\n"
           "        if x != y and x != 1 and y != 1:\n            raise ValueError('no')\n"
           "        out.append(x if y == 1 else y)\n    return tuple(out[::-1])",
    "s16": "    import itertools\n"
           "    pairs = itertools.zip_longest(reversed(shape_a), reversed(shape_b), fillvalue=1)\n"
           "    sizes = [p if p == q or q == 1 else q if p == 1 else None for p, q in pairs]\n"
           "    if None in sizes:\n        raise ValueError('shapes do not broadcast')\n"
           "    return tuple(reversed(sizes))",
}

# -- own code: random torch-like programs --------------------------------------------

CALLS = ["torch.randn", "torch.zeros", "torch.ones", "torch.arange", "torch.exp", "torch.relu", "torch.sigmoid",
         "torch.tanh", "torch.matmul", "torch.cat", "torch.stack", "torch.linspace", "torch.abs", "torch.sqrt",
         "torch.log", "torch.clamp", "np.mean", "len", "max", "min", "sum", "float", "range"]
METHODS = ["sum", "mean", "reshape", "backward", "detach", "numpy", "item", "argmax", "softmax", "unsqueeze",
           "squeeze", "clone", "std", "norm", "flatten", "type", "float", "t", "view", "pow"]
WORDS = ["alpha", "beta", "grid", "xs", "ys", "loss", "weights", "bias", "scale", "batch", "steps", "acc", "feat",
         "logits", "probs", "total", "count", "delta", "vals", "out", "tmp", "cur", "best", "res", "w2", "h", "z"]


class Program:
    """A seeded generator of random, syntactically valid, torch-flavoured cells."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def name(self) -> str:
        return self.rng.choice(WORDS)

    def expr(self, depth: int = 0) -> str:
        r = self.rng.random()
        if depth > 2 or r < 0.2:
            if self.rng.random() < 0.6:
                return self.name()
            return str(self.rng.choice([0, 1, 2, 3, 0.5, 0.1, 10, 100, 1e-3]))
        if r < 0.45:
            args = ", ".join(self.expr(depth + 1) for _ in range(self.rng.randint(1, 3)))
            return f"{self.rng.choice(CALLS)}({args})"
        if r < 0.6:
            args = ", ".join(self.expr(depth + 2) for _ in range(self.rng.randint(0, 2)))
            return f"{self.name()}.{self.rng.choice(METHODS)}({args})"
        if r < 0.8:
            return f"({self.expr(depth + 1)} {self.rng.choice(['+', '-', '*', '/', '@', '**'])} {self.expr(depth + 1)})"
        if r < 0.9:
            return f"{self.name()}[{self.rng.randint(0, 3)}:{self.rng.choice(['', '-1', str(self.rng.randint(4, 9))])}]"
        return f"[{', '.join(self.expr(depth + 2) for _ in range(self.rng.randint(2, 4)))}]"

    def statement(self, indent: str = "", depth: int = 0) -> str:
        r = self.rng.random()
        if depth < 1 and r < 0.12:
            body = "\n".join(self.statement(indent + "    ", depth + 1) for _ in range(self.rng.randint(1, 3)))
            return f"{indent}for {self.name()} in range({self.rng.randint(2, 50)}):\n{body}"
        if depth < 1 and r < 0.22:
            body = "\n".join(self.statement(indent + "    ", depth + 1) for _ in range(self.rng.randint(1, 2)))
            other = self.statement(indent + "    ", depth + 1)
            op = self.rng.choice(["<", ">", "==", "!="])
            return f"{indent}if {self.expr(2)} {op} {self.expr(2)}:\n{body}\n{indent}else:\n{other}"
        if depth < 1 and r < 0.3:
            args = ", ".join(self.rng.sample(WORDS, self.rng.randint(1, 3)))
            body = "\n".join(self.statement(indent + "    ", depth + 1) for _ in range(self.rng.randint(1, 3)))
            head = f"{indent}def {self.name()}_{self.rng.randint(1, 99)}({args}):"
            return f"{head}\n{body}\n{indent}    return {self.expr(1)}"
        if r < 0.4:
            return f"{indent}print({', '.join(self.expr(1) for _ in range(self.rng.randint(1, 3)))})"
        if r < 0.48:
            return f"{indent}{self.name()} {self.rng.choice(['+=', '-=', '*='])} {self.expr(1)}"
        return f"{indent}{self.name()} = {self.expr()}"

    def cell(self) -> str:
        return "\n".join(self.statement() for _ in range(self.rng.randint(2, 5)))


# -- disguises ----------------------------------------------------------------------

def rename(source: str, rng: random.Random, prefix: str = "v") -> str:
    """Every name the code defines (variables, functions, arguments) renamed consistently."""
    defined: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    mapping = {n: f"{prefix}{rng.choice(['val', 'tmp', 'my', 'q'])}_{i}" for i, n in enumerate(sorted(defined))}
    return rename_with(source, mapping)


def rename_with(source: str, mapping: dict[str, str]) -> str:
    out, previous = [], None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        text = tok.string
        if tok.type == tokenize.NAME and not keyword.iskeyword(text) and text in mapping and previous != ".":
            text = mapping[text]
        out.append((tok.type, text))
        previous = tok.string
    return tokenize.untokenize(out)


def recomment(source: str, note: str) -> str:
    """Comments dropped and others written, as a student hiding a copy would."""
    lines = [line.split("  #", 1)[0].rstrip() for line in source.strip().splitlines()
             if not line.strip().startswith("#")]
    return f"# {note}\n" + "\n".join(lines)


def reformat(source: str) -> str:
    """Calls broken over lines and operators spaced differently (the same tokens)."""
    return source.replace(", ", ",\n        ").replace(" = ", "=").replace("(", "( ")


# -- prose: a small grammar in English and Korean --------------------------------------

EN_OPENERS = ["", "", "", "Honestly, ", "To my surprise, ", "After the exercises, I think ", "In short, ",
              "What I keep in mind: ", "Looking back, ", "From the outputs, I saw that ", "At first glance, ",
              "My takeaway is that "]
EN_SUBJECTS = ["broadcasting", "autograd", "the reshape call", "softmax regression", "the cross-entropy loss",
               "Fashion-MNIST", "weight decay", "mini-batch SGD", "the chain rule", "a hidden layer", "ReLU",
               "the sigmoid", "data preprocessing with pandas", "the Frobenius norm", "object-oriented design",
               "tensor indexing", "the learning rate", "linear regression", "the computational graph", "dropout",
               "in-place addition", "the detach call", "the trainer class", "one-hot encoding"]
EN_VERBS = ["surprised me because it", "was easy once I saw that it", "confused me until I noticed it",
            "looks simple but it", "is useful since it", "took me a while: it", "reminded me that it",
            "behaved differently than I expected: it", "is elegant because it", "was the hardest part, as it",
            "matters in practice since it", "clicked when I printed it and it"]
EN_OBJECTS = ["copies values along axes of size one", "records every operation for the backward pass",
              "shares memory with the original tensor", "turns scores into probabilities that sum to one",
              "punishes confident wrong answers heavily", "needs the gradient to be reset every step",
              "keeps the loss from exploding", "makes the model nonlinear", "saturates for large inputs",
              "fills missing values with the column mean", "treats the matrix like a long vector",
              "hides the training loop inside the trainer class", "lets a slice modify the original data",
              "decides how far each update moves the weights", "stacks simple layers into a deep function",
              "keeps intermediate values for the backward pass", "averages the loss over the batch",
              "flattens each image into a vector of 784 pixels", "avoids overflow by subtracting the maximum",
              "zeroes half of the activations during training", "changes the id of the result",
              "breaks the graph so no gradient flows back", "needs float inputs rather than integers",
              "works on the GPU and the CPU alike", "converts a data frame into a float tensor",
              "depends on the order of the dimensions", "is slower with a Python loop than vectorised",
              "gives a different loss curve for every seed", "hides most of the plotting code",
              "returns a view instead of a copy"]
EN_TAILS = ["", "", " in my runs", " on the small example", " when I changed the shapes", " after ten epochs",
            " with a batch of 256", " in the second experiment", " compared with numpy", " on my laptop",
            " even without a GPU", " for the 2-D case", " when the learning rate was large"]
KO_OPENERS = ["", "", "", "개인적으로 ", "실험해 보니 ", "처음에는 몰랐지만 ", "정리하면 ", "코드를 돌려 보니 ",
              "교재를 다시 읽어 보니 ", "예상과 달리 ", "결과적으로 "]
KO_SUBJECTS = ["브로드캐스팅은", "자동 미분은", "reshape 연산은", "소프트맥스 회귀는", "교차 엔트로피 손실은",
               "미니배치 SGD는", "은닉층은", "ReLU 함수는", "시그모이드 함수는", "학습률은", "계산 그래프는",
               "판다스 전처리는", "텐서 인덱싱은", "가중치 감쇠는", "드롭아웃은", "선형 회귀는", "detach 함수는",
               "Trainer 클래스는", "원-핫 인코딩은", "노름 계산은"]
KO_ADVERBS = ["", "", "항상 ", "의외로 ", "생각보다 ", "실제로 ", "결국 ", "자연스럽게 ", "때때로 "]
KO_OBJECTS = ["크기가 1인 축을 따라 값을 복사", "모든 연산을 기록해서 역전파에 사용", "원래 텐서와 메모리를 공유",
              "점수를 합이 1인 확률로 변환", "틀린 예측에 큰 벌점을 부여", "매 단계마다 기울기를 초기화해야",
              "모델에 비선형성을 추가", "큰 입력에서 기울기가 거의 0이 되도록", "결측값을 평균으로 채우도록",
              "가중치가 얼마나 움직일지 결정", "이미지를 784개의 픽셀 벡터로 변환", "최댓값을 빼서 오버플로를 방지",
              "결과 텐서의 id를 바꾸도록", "그래프를 끊어서 기울기가 흐르지 않게", "정수 대신 실수 입력을 요구",
              "데이터프레임을 실수 텐서로 변환", "차원의 순서에 따라 결과가 달라지도록", "반복문보다 훨씬 빠르게 계산",
              "시드마다 다른 손실 곡선을 생성", "복사본 대신 뷰를 반환", "학습 루프를 클래스 안에 숨기도록",
              "배치 전체의 손실을 평균", "층을 쌓아서 깊은 함수를 구성", "활성값의 절반을 0으로 설정",
              "중간 값을 저장해서 역전파에 재사용"]
KO_ENDINGS = [("한다.", "합니다."), ("하는 것 같다.", "하는 것 같습니다."),
              ("한다는 점이 흥미로웠다.", "한다는 점이 흥미로웠습니다."),
              ("하도록 설계되어 있다.", "하도록 설계되어 있습니다."),
              ("한다는 것을 실험으로 확인했다.", "한다는 것을 실험으로 확인했습니다."),
              ("할 수 있다.", "할 수 있습니다."), ("한다는 것을 배웠다.", "한다는 것을 배웠습니다."),
              ("해야 한다는 점을 기억하자.", "해야 한다는 점을 기억해야 합니다.")]
SYNONYMS = {"surprised me": "astonished me", "because": "since", "easy": "simple", "confused me": "puzzled me",
            "useful": "handy", "noticed": "realised", "copies": "duplicates", "values": "entries",
            "records": "logs", "operation": "computation", "shares memory": "shares storage",
            "turns": "converts", "probabilities": "likelihoods", "heavily": "strongly", "reset": "cleared",
            "exploding": "blowing up", "makes": "renders", "large": "big", "fills": "replaces",
            "hardest": "most difficult", "keeps": "retains", "each": "every", "expected": "anticipated",
            "the small example": "the little example", "my runs": "my experiments",
            "images": "pictures", "image": "picture", "training": "learning", "weights": "parameters",
            "Honestly, ": "", "In short, ": "Briefly, ", "slower": "less fast", "different": "distinct"}
KO_SYNONYMS = {" 값을 ": " 원소를 ", "확인했": "검증했", "흥미로웠": "재미있었", "생각보다 ": "예상보다 ",
               "개인적으로 ": "", "결과적으로 ": "최종적으로 ", "배웠": "알게 되었"}


def english_sentence(rng: random.Random) -> str:
    text = f"{rng.choice(EN_OPENERS)}{rng.choice(EN_SUBJECTS)} {rng.choice(EN_VERBS)} {rng.choice(EN_OBJECTS)}"
    return text[0].upper() + text[1:] + f"{rng.choice(EN_TAILS)}."


def korean_sentence(rng: random.Random) -> str:
    return (f"{rng.choice(KO_OPENERS)}{rng.choice(KO_SUBJECTS)} {rng.choice(KO_ADVERBS)}{rng.choice(KO_OBJECTS)}"
            f"{rng.choice(KO_ENDINGS)[0]}")


def paraphrase(text: str, rng: random.Random) -> str:
    """Reworded as a copier (or a translation tool) would: synonyms, endings, sentence order."""
    sentences = [s.strip() for s in text.replace("다. ", "다.\n").replace(". ", ".\n").splitlines() if s.strip()]
    out = []
    for sentence in sentences:
        for old, new in {**SYNONYMS, **KO_SYNONYMS}.items():
            sentence = sentence.replace(old, new)
        for plain, polite in KO_ENDINGS:
            sentence = sentence.replace(plain, polite)
        out.append(sentence)
    rng.shuffle(out)
    return " ".join(out)


def discussions(rng: random.Random, korean: bool) -> dict[str, str]:
    """A discussion of two or three sentences per section."""
    make = korean_sentence if korean else english_sentence
    return {s: " ".join(make(rng) for _ in range(rng.randint(2, 3))) for s in TITLES}


# -- the class ----------------------------------------------------------------------

def _stub_cells(student: str) -> list[nbformat.NotebookNode]:
    stub = nbformat.read(REPO / "exercises" / "broadcasting.ipynb", as_version=4)
    cells = []
    for cell in stub.cells:
        source = cell.source
        if student in OWN_BODIES and "def broadcast_shape" in source:
            source = source.replace('    raise NotImplementedError("your solution here")', OWN_BODIES[student])
        cells.append(code(source) if cell.cell_type == "code" else md(source))
    return cells


def _answer_cells(student: str, rng: random.Random, originals: dict[str, list[str]]) -> list[str]:
    """The planted answer of a pair's original, or its disguised copy."""
    if student in PLANTED_ANSWER:
        cells = [s.strip() for s in ANSWERS[PLANTED_ANSWER[student]]]
        originals[student] = cells
        return cells
    partner = {b: a for a, b in PLANTED}.get(student)
    if partner is None:
        return []
    src = originals[partner]
    if student == "s02":
        return [recomment(rename(c, rng), "shape rule, my version") for c in src]
    if student == "s04":
        return [recomment(c, f"step {i}") for i, c in reversed(list(enumerate(src)))]
    if student == "s06":
        return [reformat(rename(c, rng, "w")) for c in src]
    if student == "s08":
        return [rename(c, rng, "p") for c in src]
    merged = "\n".join(src[:1] + ["print('data ready', len(points))"] + src[1:])
    return [recomment(rename(merged, rng, "m"), "moons experiment")]


def student_notebook(student: str, index: int, seed: int, originals: dict[str, list[str]],
                     prose: dict[str, dict[str, str]]) -> nbformat.NotebookNode:
    """One student's homework notebook."""
    rng = random.Random(f"{seed}-{student}")
    program = Program(rng)
    korean = index % 3 == 1 or student in ("s03", "s04")
    partner = {b: a for a, b in PLANTED}.get(student)
    texts = discussions(rng, korean)
    if partner is not None:
        copied = list(TITLES) if student != "s08" else list(TITLES)[:8]
        texts.update({s: paraphrase(prose[partner][s], rng) if student != "s08" else prose[partner][s] for s in copied})
    prose[student] = texts
    sections = [s for s in TITLES if s not in ("5.2", "5.3") or student in MLP_BOOK]
    answer = _answer_cells(student, rng, originals)
    own = [program.cell() for _ in range(rng.randint(3, 5) if student != "s08" else 9)]
    cells = [md("# Deep Learning homework 1: d2l chapters 2-5"), code("max_epochs = 10", "parameters")]
    for n, section in enumerate(sections):
        cells.append(md(f"## {section} {TITLES[section]}"))
        for source in BOOK[section]:
            note = rng.random() < 0.2
            comment = rng.choice(["check", "book code", "run it", "확인"])
            cells.append(code(f"# {comment}\n{source}" if note else source))
        if n == 0 and student in STUB_USERS:
            cells += _stub_cells(student)
        if n == 3:
            cells += [md("#### My experiments")] + [code(s) for s in own[: len(own) // 2]]
        if n == 6 and answer:
            mixed = answer if student != "s04" else [c for pair in zip(answer, own) for c in pair]
            cells += [md("#### Exercise")] + [code(s) for s in mixed]
        if n == 9:
            cells += [code(s) for s in own[len(own) // 2:]]
        cells.append(md(f"### Discussion\n\n{texts[section]}"))
    return notebook(cells, homework="d2l-ch2-5")


def build_class(folder: Path, students: int = 20, seed: int = 7) -> list[Path]:
    """Write ``students`` notebooks ``s01.ipynb`` ... into ``folder``; planted pairs need at least 10."""
    originals: dict[str, list[str]] = {}
    prose: dict[str, dict[str, str]] = {}
    paths = []
    for i in range(students):
        name = f"s{i + 1:02d}"
        paths.append(write(student_notebook(name, i, seed, originals, prose), folder / f"{name}.ipynb"))
    return paths


def planted_pairs() -> set[frozenset[str]]:
    """The planted pairs, unordered."""
    return {frozenset(p) for p in PLANTED}
