"""The docs cannot drift from the code: the CLI table is generated from SETTINGS, every flag
of `greenhttp --help` is documented, and the public export list is importable (trio-style)."""

import importlib.util
import pathlib
import re
import subprocess
import sys

import greenhttp

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI_MD = ROOT / "docs" / "cli.md"


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_cli_table", ROOT / "docs" / "gen_cli_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_md_options_table_is_generated_from_settings():
    gen = load_generator()
    text = CLI_MD.read_text()
    expected = f"{gen.BEGIN}\n{gen.table()}{gen.END}"
    assert expected in text, "docs/cli.md is stale: run `python docs/gen_cli_table.py --write`"
    assert gen.replace_in(text) == text


def test_generated_table_has_one_row_per_setting():
    from greenhttp.settings import SETTINGS

    rows = load_generator().table().splitlines()[2:]
    assert len(rows) == len(SETTINGS)
    for setting, row in zip(SETTINGS, rows):
        assert f"`{setting.env_var}`" in row and f"`{setting.default}`" in row


def test_every_help_flag_is_documented():
    result = subprocess.run([sys.executable, "-m", "greenhttp", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    flags = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", result.stdout))
    assert {"--help", "--bind", "--max-body-size", "--no-access-log", "--version"} <= flags
    text = CLI_MD.read_text()
    missing = sorted(flag for flag in flags if not re.search(re.escape(flag) + r"(?![\w-])", text))
    assert not missing, f"flags in `greenhttp --help` missing from docs/cli.md: {missing}"


def test_all_names_are_importable_and_unique():
    names = greenhttp.__all__
    assert all(isinstance(name, str) for name in names)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert not duplicates, f"duplicates in greenhttp.__all__: {duplicates}"
    namespace: dict = {}
    exec(f"from greenhttp import {', '.join(names)}", namespace)
    for name in names:
        assert namespace[name] is getattr(greenhttp, name)
    # `from greenhttp import *` gives exactly __all__.
    star: dict = {}
    exec("from greenhttp import *", star)
    assert set(star) - {"__builtins__"} == set(names)
