from pathlib import Path

import pytest

from grader.config import Options, load_options, options_reference
from grader.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_precedence_defaults_file_env_flags(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[grader]\ncell-timeout = 10\ntotal_timeout = 20\nfigures = true\n")
    opts = load_options(config_file=config, env={"GRADER_SECRET": "s3", "GRADER_DATA_DIR": "/data"},
                        flags={"total_timeout": 30, "cell_timeout": None})
    assert (opts.cell_timeout, opts.total_timeout, opts.figures) == (10.0, 30.0, True)
    assert opts.secret == "s3" and opts.seed_policy == "secret" and opts.data_path == Path("/data")
    assert opts.explicit == {"total_timeout"}


def test_exercise_limits_do_not_override_flags() -> None:
    opts = load_options(env={}, flags={"probe_timeout": 5})
    raised = opts.with_overrides({"probe_timeout": 100, "cell_timeout": 900})
    assert raised.probe_timeout == 5 and raised.cell_timeout == 900


@pytest.mark.parametrize("text, message", [
    ("bogus = 1", "unknown option 'bogus'"),
    ("cell_timeout = 'soon'", "cannot use 'soon'"),
    ("isolation = 'maybe'", "isolation must be auto, strict or off"),
    ("cell_timeout = ", "c.toml"),
])
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_options(config_file=config, env={})


def test_public_seed_without_secret() -> None:
    assert load_options(env={}).seed_policy == "public"
    assert Options().secret == ""


def test_config_reference_doc_is_current() -> None:
    doc = (REPO / "docs" / "CONFIG.md").read_text(encoding="utf-8")
    assert options_reference() in doc, "docs/CONFIG.md is stale: regenerate the table with grader.config.options_reference()"


def test_kernels_fork_by_default_only_where_one_grader_grades_many_notebooks() -> None:
    from grader.config import for_many_notebooks, forking

    default = Options()
    assert default.fork_kernels == "auto" and not forking(default)  # one notebook: a fresh kernel
    assert forking(for_many_notebooks(default))                     # batch, validate, calibrate
    assert not forking(for_many_notebooks(Options(fork_kernels="off")))
    assert forking(Options(fork_kernels="on"))


def test_an_unknown_forking_mode_is_a_config_error() -> None:
    from grader.errors import ConfigError

    with pytest.raises(ConfigError, match="fork_kernels must be auto, on or off, not 'maybe'"):
        load_options(env={}, flags={"fork_kernels": "maybe"})
