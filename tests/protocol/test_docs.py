"""The docs cannot drift from the code: the CLI table is generated from SETTINGS, every flag
of `greenhttp --help` is documented, and the public export list is importable (trio-style)."""

import importlib.util
import pathlib
import re
import subprocess
import sys

import pytest

import greenhttp

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLI_MD = ROOT / "docs" / "cli.md"


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_cli_table", ROOT / "docs" / "gen_cli_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("scope", ["server", "app", "proxy"])
def test_options_tables_are_generated_from_settings(scope):
    gen = load_generator()
    path = gen.TABLES[scope][0]
    text = path.read_text()
    begin, end = gen.markers(scope)
    expected = f"{begin}\n{gen.table(scope)}{end}"
    assert expected in text, f"{path.name} is stale: run `python docs/gen_cli_table.py --write`"
    assert gen.replace_in(text, scope) == text


@pytest.mark.parametrize("scope", ["server", "app", "proxy"])
def test_generated_table_has_one_row_per_setting(scope):
    from greenhttp.settings import scoped

    rows = load_generator().table(scope).splitlines()[2:]
    assert len(rows) == len(scoped(scope)) > 0
    for setting, row in zip(scoped(scope), rows):
        assert f"`{setting.env_var}`" in row and f"`{setting.default}`" in row
        # A switch (--reload) takes no value.
        assert f"`{setting.long_flag}{'`' if setting.switch else ' '}" in row


@pytest.mark.parametrize("verb, doc, some", [
    ([], "cli.md", {"--help", "--bind", "--max-body-size", "--no-access-log", "--version"}),
    (["proxy"], "proxy.md", {"--forward", "--allow", "--connect-timeout", "--tunnel-idle-timeout"}),
])
def test_every_help_flag_is_documented(verb, doc, some):
    result = subprocess.run([sys.executable, "-m", "greenhttp", *verb, "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    flags = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", result.stdout))
    assert some <= flags
    # The proxy's --help also lists the server's options, documented in cli.md.
    text = (ROOT / "docs" / doc).read_text() + CLI_MD.read_text()
    missing = sorted(flag for flag in flags if not re.search(re.escape(flag) + r"(?![\w-])", text))
    assert not missing, f"flags in `greenhttp {' '.join(verb)} --help` missing from docs/{doc}: {missing}"


def test_every_default_is_declared_once():
    """The proxy's, the pool's, the client's and the protocol's defaults are the declarations'."""
    from greenhttp.client.pool import Pool
    from greenhttp.client.timeouts import DEFAULT_TIMEOUT as CLIENT_TIMEOUT
    from greenhttp.protocol import Limits
    from greenhttp.proxy import DEFAULT_TIMEOUT as PROXY_TIMEOUT, ForwardProxy
    from greenhttp.settings import ServerConfig, default

    pool = Pool()
    assert (pool.max_per_host, pool.max_total, pool.idle_timeout, pool.checkout_timeout) == (
        default("pool_max_per_host"), default("pool_max_total"), default("pool_idle_timeout"),
        default("pool_checkout_timeout"))
    assert (CLIENT_TIMEOUT.connect, CLIENT_TIMEOUT.read, CLIENT_TIMEOUT.write) == (
        default("client_connect_timeout"), default("client_read_timeout"), default("client_write_timeout"))
    assert (PROXY_TIMEOUT.connect, PROXY_TIMEOUT.read, PROXY_TIMEOUT.write) == (
        default("proxy_connect_timeout"), default("proxy_read_timeout"), default("proxy_read_timeout"))
    forward = ForwardProxy(["*:*"])
    assert forward.connect_timeout == default("proxy_connect_timeout")
    assert forward.tunnel_idle_timeout == default("proxy_tunnel_idle_timeout")
    limits, config = Limits(), ServerConfig()
    for name in limits.__slots__:
        assert getattr(limits, name) == getattr(config, name) == default(name), name


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


def test_app_settings_only_where_they_act():
    """--static and --listings mount files beside an APP: `greenhttp --help` offers them,
    `greenhttp proxy --help` (where they would do nothing) does not."""
    from greenhttp.settings import scoped

    def help_of(*verb):
        return subprocess.run([sys.executable, "-m", "greenhttp", *verb, "--help"], cwd=ROOT,
                              capture_output=True, text=True, timeout=30).stdout

    app_flags = {s.long_flag for s in scoped("app")}
    assert {"--static", "--listings"} <= app_flags
    serve, proxy = help_of(), help_of("proxy")
    for flag in app_flags:
        assert re.search(re.escape(flag) + r"(?![\w-])", serve), flag
        assert not re.search(re.escape(flag) + r"(?![\w-])", proxy), flag
