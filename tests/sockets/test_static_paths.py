"""Never outside the root: every traversal form, sent as raw bytes on a real socket so
no client normalises the path first. Each must get 404, never the secret, never a 500."""

import os
import stat

import pytest

from conftest import raw_exchange
from greenhttp.static import Files

SECRET = b"TOP-SECRET-outside-the-root"


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("static_paths")
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    root = base / "root"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"inside a\n")
    (root / "sub" / "b.txt").write_bytes(b"inside b\n")
    (root / ".hidden").write_bytes(SECRET)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_bytes(SECRET)
    (root / "link_out").symlink_to(outside / "secret.txt")
    (root / "link_out_rel").symlink_to("../outside/secret.txt")
    (root / "dir_link_out").symlink_to(outside)
    (root / "link_in").symlink_to("a.txt")
    (root / "link_hidden").symlink_to(".hidden")
    os.mkfifo(root / "fifo")
    os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null in the root
    (root / "caf\u00e9.txt").write_bytes(b"utf-8 name\n")
    return root


TRAVERSALS = [
    b"/../outside/secret.txt",
    b"/sub/../../outside/secret.txt",
    b"/%2e%2e/outside/secret.txt",
    b"/%2E%2E/outside/secret.txt",
    b"/.%2e/outside/secret.txt",
    b"/%2e%2e%2foutside%2fsecret.txt",
    b"/..%2Foutside%2Fsecret.txt",
    b"/..%5coutside%5csecret.txt",
    b"/..\\outside\\secret.txt",
    b"/sub\\..\\..\\outside\\secret.txt",
    b"/%252e%252e/outside/secret.txt",            # double-encoded dots
    b"/%252e%252e%252foutside%252fsecret.txt",    # double-encoded dots and slashes
    b"/%c0%ae%c0%ae/outside/secret.txt",          # overlong UTF-8 "."
    b"/%c0%af..%c0%afoutside/secret.txt",         # overlong UTF-8 "/"
    b"/%e0%80%ae%e0%80%ae/outside/secret.txt",    # 3-byte overlong "."
    b"/%ff%fe/a.txt",                             # invalid UTF-8
    b"/a.txt%00.png",                             # NUL
    b"/a.txt%00",
    b"//etc/passwd",                              # absolute path
    b"/%2fetc/passwd",
    b"http://localhost/../outside/secret.txt",    # absolute-form target
    b"/./a.txt",
    b"/.hidden",
    b"/.git/config",
    b"/sub/.%2e/.%2e/outside/secret.txt",
    b"/link_out",
    b"/link_out_rel",
    b"/dir_link_out/secret.txt",
    b"/link_hidden",
    b"/fifo",
    b"/null",
    b"/a.txt/",                                   # a file is not a directory
    b"/nonexistent",
]


def _get(server, target: bytes) -> tuple[int, bytes]:
    response = raw_exchange(server.address, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status = int(response.split(b" ", 2)[1])
    return status, response


@pytest.mark.parametrize("target", TRAVERSALS, ids=[t.decode("latin-1") for t in TRAVERSALS])
def test_traversal_refused(serve, tree, target):
    with serve(Files(str(tree), listings=True)) as server:
        status, response = _get(server, target)
    assert status == 404, response
    assert SECRET not in response


@pytest.mark.parametrize("target", [b"/link_out", b"/link_out_rel", b"/dir_link_out/secret.txt",
                                    b"/link_hidden", b"/../outside/secret.txt"])
def test_follow_symlinks_stays_inside(serve, tree, target):
    with serve(Files(str(tree), follow_symlinks=True)) as server:
        status, response = _get(server, target)
    assert status == 404, response
    assert SECRET not in response


def test_follow_symlinks_serves_links_inside(serve, tree):
    with serve(Files(str(tree), follow_symlinks=True)) as server:
        status, response = _get(server, b"/link_in")
    assert status == 200 and response.endswith(b"inside a\n")
    with serve(Files(str(tree))) as server:  # the default refuses every symlink
        assert _get(server, b"/link_in")[0] == 404


def test_allowed_paths_still_served(serve, tree):
    with serve(Files(str(tree))) as server:
        assert _get(server, b"/a.txt")[1].endswith(b"inside a\n")
        assert _get(server, b"//sub//b.txt")[1].endswith(b"inside b\n")
        assert _get(server, b"/caf%C3%A9.txt")[1].endswith(b"utf-8 name\n")
    with serve(Files(str(tree), allow_hidden=True)) as server:
        assert _get(server, b"/.hidden")[0] == 200


def test_listing_hides_what_it_would_refuse(serve, tree):
    with serve(Files(str(tree), listings=True)) as server:
        status, response = _get(server, b"/")
    assert status == 200
    for shown in (b"a.txt", b"sub/", b"caf%C3%A9.txt"):
        assert shown in response
    for hidden in (b".hidden", b".git", b"link_out", b"fifo", b"null", b"link_in"):
        assert b">" + hidden not in response and b'"' + hidden not in response


def test_follow_symlinks_follows_siblings_inside_only(serve, tmp_path):
    # A build that links precompressed files in (app.js.gz -> build/app.js.gz) is served
    # under the rule every path follows; a sibling linking out of the root never is.
    root = tmp_path / "root"
    (root / "build").mkdir(parents=True)
    (root / "app.js").write_bytes(b"plain js")
    (root / "build" / "app.js.gz").write_bytes(b"gzip bytes inside")
    (root / "app.js.gz").symlink_to("build/app.js.gz")
    (tmp_path / "secret.br").write_bytes(SECRET)
    (root / "app.js.br").symlink_to(tmp_path / "secret.br")
    (root / "x.css").write_bytes(b"x")
    (root / "x.css.br").symlink_to(tmp_path / "secret.br")
    request = b"GET /%s HTTP/1.1\r\nHost: x\r\nAccept-Encoding: br, gzip\r\nConnection: close\r\n\r\n"
    with serve(Files(str(root), follow_symlinks=True)) as server:
        linked = raw_exchange(server.address, request % b"app.js")
        out = raw_exchange(server.address, request % b"x.css")
    assert linked.endswith(b"gzip bytes inside") and b"Content-Encoding: gzip" in linked
    assert SECRET not in out and out.endswith(b"\r\n\r\nx") and b"Vary" not in out
    with serve(Files(str(root))) as server:  # the default refuses every symlink
        plain = raw_exchange(server.address, request % b"app.js")
    assert plain.endswith(b"plain js") and b"Vary" not in plain
