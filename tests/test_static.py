from grader.notebook.load import Cell
from grader.notebook.static import NOT_ANALYSABLE, analyse, name_facts, parse_cell, rule_matches, uses_in


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


def test_any_source_is_parsed_or_marked_not_analysable() -> None:
    deep = parse_cell(Cell(0, "code", "x = " + "+".join(["1"] * 6000)))
    nested = parse_cell(Cell(1, "code", "y = " + "+".join(["1"] * 2000)))  # parses, too deep to visit
    huge = parse_cell(Cell(2, "code", "z = 1\n" * 400_000))
    surrogate = parse_cell(Cell(3, "code", "s = '\udcff'"))
    for code in (deep, nested, huge, surrogate):
        assert code.tree is None and code.not_analysable and code.unknown
        assert code.syntax_error.startswith("not analysable: ")
    assert (deep.not_analysable, huge.not_analysable) == ("the code is nested too deeply to parse",
                                                          "the cell has 2,400,000 characters")
    assert nested.not_analysable == "the code is nested too deeply to analyse"
    assert {u.name for u in uses_in([deep, parse_cell(Cell(4, "code", "import torch"))], cells=[0])} == {
        NOT_ANALYSABLE}
    assert {u.name for u in uses_in([surrogate], roots=["f"])} == {NOT_ANALYSABLE}  # f may be in there


def test_name_facts_see_bindings_mutations_and_calls() -> None:
    codes = analyse(_cells(
        "import torch\nmodels, acc = {}, {}",
        "def train(model):\n    global W\n    W = model\n    return model",
        "for name in ('a', 'b'):\n    models[name] = train(torch.zeros(1))\n    acc[name] = 1.0",
        "model = make()\nfit(model)",
        "print(len(models))",
        "from math import *",
        "exec('q = 1')",
    ))
    facts = name_facts(codes)
    assert {"models", "acc", "torch", "name"} <= facts.touched[2] and "global:W" in facts.touched[2]
    assert "train" not in facts.touched[2]  # called, not changed
    assert "model" in facts.touched[3] and "fit" not in facts.touched[3]
    assert facts.free_names(["train"]) == {"global:W"}
    assert facts.dynamic == [5, 6]
    assert codes[0].imported == {"torch"} and codes[5].star_import
