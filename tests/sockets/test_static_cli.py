"""`greenhttp DIR` and `--static /PREFIX=DIR` as a user runs them: a subprocess, curl."""

import os
import signal
import subprocess

import pytest

from test_cli import ROOT, run, start


@pytest.fixture
def site(tmp_path):
    (tmp_path / "x.txt").write_bytes(b"static x\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "y.txt").write_bytes(b"static y\n")
    return tmp_path


def curl(*args):
    return subprocess.run(["curl", "-sS", "-i", *args], capture_output=True, text=True, timeout=20).stdout


def test_greenhttp_dir_serves_with_listings(site):
    server = start(str(site))
    try:
        assert curl(server.url + "/x.txt").endswith("\n\nstatic x\n")
        listing = curl(server.url + "/")
        assert listing.startswith("HTTP/1.1 200") and 'href="sub/"' in listing
        assert curl("-r", "1-5", server.url + "/sub/y.txt").endswith("\n\ntatic")
    finally:
        server.stop(sig=signal.SIGKILL)


def test_greenhttp_dot_with_listings_off(site):
    server = start(".", "--listings", "off", cwd=site)
    try:
        assert curl(server.url + "/").startswith("HTTP/1.1 404")
        assert curl(server.url + "/x.txt").endswith("static x\n")
    finally:
        server.stop(sig=signal.SIGKILL)


def test_static_mounts_beside_an_app(site):
    other = site / "sub"
    server = start("examples/hello.py", "--static", f"/assets={site}", "--static", f"/y={other}")
    try:
        assert curl(server.url + "/assets/x.txt").endswith("static x\n")
        assert curl(server.url + "/y/y.txt").endswith("static y\n")
        assert curl(server.url + "/assets/").startswith("HTTP/1.1 404")  # listings off for mounts
        app = curl(server.url + "/?name=app")
        assert app.startswith("HTTP/1.1 200") and "app" in app
    finally:
        server.stop(sig=signal.SIGKILL)


def test_static_from_environment(site):
    env = dict(os.environ, GREENHTTP_STATIC=f"/assets={site}", GREENHTTP_LISTINGS="on")
    server = start("examples/hello.py", env=env)
    try:
        assert 'href="x.txt"' in curl(server.url + "/assets/")
    finally:
        server.stop(sig=signal.SIGKILL)


def test_static_cache_control_per_mount(site):
    other = site / "sub"
    server = start("examples/hello.py", "--static", f"/assets={site}", "--static", f"/y={other}",
                   "--static-cache-control", "/assets=public, max-age=31536000, immutable")
    try:
        assets = curl(server.url + "/assets/x.txt")
        plain = curl(server.url + "/y/y.txt")
    finally:
        server.stop(sig=signal.SIGKILL)
    assert "\nCache-Control: public, max-age=31536000, immutable\n" in assets
    assert "Cache-Control" not in plain
    env = dict(os.environ, GREENHTTP_STATIC_CACHE_CONTROL="/=no-cache")
    server = start(str(site), env=env)
    try:
        assert "\nCache-Control: no-cache\n" in curl(server.url + "/x.txt")
    finally:
        server.stop(sig=signal.SIGKILL)


@pytest.mark.parametrize("args, message", [
    (["--static-cache-control", "/nowhere=no-cache"], "no static mount there"),
    (["--static-cache-control", "no-cache"], "must look like /PREFIX=VALUE"),
    (["--static", "assets=/tmp"], "must look like /PREFIX=DIR"),
    (["--static", "/a=/nonexistent-dir-for-test"], "not a directory"),
    (["--listings", "maybe"], "must be auto, on or off"),
])
def test_bad_static_options(args, message):
    result = run("examples/hello.py", *args, "-p", "0")
    assert result.returncode in (1, 2) and message in result.stderr


def test_package_directory_is_still_an_app(tmp_path):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [b'from the package\\n']\n")
    server = start("mypkg", cwd=tmp_path)
    try:
        assert curl(server.url + "/").endswith("from the package\n")
    finally:
        server.stop(sig=signal.SIGKILL)
