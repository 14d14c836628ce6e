from grader.notebook.load import Cell
from grader.notebook.static import analyse, parse_cell, rule_matches, uses_in


def _cells(*sources: str) -> list[Cell]:
    return [Cell(index=i, kind="code", source=s) for i, s in enumerate(sources)]


def test_definitions_survive_magics_and_syntax_errors() -> None:
    code = parse_cell(Cell(0, "code", "!pip install x\n%matplotlib inline\nimport numpy as np\n"
                                      "def f(x):\n    return x\nfor i in range(2):\n    y = i\nz, (w, v) = 1, (2, 3)"))
    assert code.defines == {"np", "f", "i", "y", "z", "w", "v"}
    broken = parse_cell(Cell(1, "code", "def f(:"))
    assert broken.tree is None and broken.syntax_error.startswith("SyntaxError")


def test_uses_follow_aliases_helpers_and_methods() -> None:
    codes = analyse(_cells(
        "import torch as t\nfrom numpy import cos as c\nfrom math import *",
        "def helper(x):\n    return c(x) + sqrt(x)",
        "def target(x):\n    y = helper(x)\n    return t.sin(x).cos() + getattr(t, 'tan')(x)",
        "untouched = t.linalg.lstsq",
    ))
    names = {u.name for u in uses_in(codes, roots=["target"])}
    assert {"numpy.cos", "math.sqrt", "torch.sin", ".cos", ".tan"} <= names
    assert "torch.linalg.lstsq" not in names
    assert {u.name for u in uses_in(codes, cells=[3])} >= {"torch.linalg.lstsq"}


def test_dynamic_code_is_visible() -> None:
    codes = analyse(_cells("import torch\ndef f(x):\n    name = 'co' + 's'\n    return getattr(torch, name)(x) + eval('1')"))
    names = {u.name for u in uses_in(codes, roots=["f"])}
    assert {"builtins.getattr*", "eval"} <= names


def test_rule_matching() -> None:
    assert rule_matches("torch.cos", "torch.cos") and rule_matches("scipy", "scipy.optimize.curve_fit")
    assert rule_matches(".cos", "torch.cos") and rule_matches(".cos", ".cos")
    assert not rule_matches(".cos", "math.acos") and not rule_matches("torch.cos", "torch.cosh")
