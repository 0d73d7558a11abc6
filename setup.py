from setuptools import find_packages, setup

with open("greenhttp/_version.py") as f:
    version = f.read().split('"')[1]

with open("README.md", encoding="utf-8") as f:
    long_description = f.read()

# Optional features, each an extra (README.md, "Dependencies and why").
# br and zstd: decoding client responses, encoding greenhttp.resource representations
# (gzip and deflate need nothing beyond zlib).
COMPRESS = ["brotli>=1.1", "zstandard>=0.22"]
# socks5:// (and socks5h, socks4, socks4a) proxies for the client.
SOCKS = ["python-socks>=2.4"]
# greenhttp --reload: restart workers when a source file changes.
RELOAD = ["watchfiles>=0.21"]
# --progress-store redis://...: upload progress shared by several machines.
REDIS = ["redis>=4.5"]

setup(
    name="greenhttp",
    version=version,
    description="HTTP/1.1 servers, clients and proxies on gevent: one greenlet per connection, "
                "streaming bodies both ways",
    long_description=long_description,
    long_description_content_type="text/markdown",
    license="MIT",
    packages=find_packages(include=["greenhttp", "greenhttp.*"]),
    package_data={"greenhttp": ["py.typed"]},
    python_requires=">=3.10",
    install_requires=[
        "gevent>=23.9",
        "greenlet>=3.0",
        "httptools>=0.6",
        "msgpack>=1.0",
        "prompt_toolkit>=3.0.36",
        "pygments>=2.13",
        "tqdm>=4.64",
        "wsproto>=1.2",
    ],
    extras_require={
        "compress": COMPRESS,
        "socks": SOCKS,
        "reload": RELOAD,
        "redis": REDIS,
        # The tests exercise every optional feature, so they install every extra.
        "test": COMPRESS + SOCKS + RELOAD + REDIS + [
            "pytest>=7",
            "pytest-timeout>=2.1",
            "webtest>=3.0",
            # httpbin (the foreign server of tests/interop/test_client_httpbin.py): 0.10.0
            # is the last release that does not pin greenlet<3 on Python<3.12 (gevent
            # needs greenlet>=3); it imports werkzeug.http.parse_authorization_header,
            # gone in Werkzeug 3, hence Flask/Werkzeug 2.3.
            "flask>=2.3,<3",
            "werkzeug>=2.3,<3",
            "httpbin==0.10.0",
            "gunicorn>=21",
            "requests>=2.31",
            "trustme>=1.1",
            "pexpect>=4.8",
            "selenium>=4.11",
            "hypothesis>=6.80",
            # the type check in tests/protocol/test_typing.py
            "mypy>=1.8",
            "types-gevent",
            "types-tqdm",
            "types-Pygments",
            # WebSocket interop with foreign peers (tests/*/test_websocket*.py). Lower bounds
            # only: none of them pins gevent or greenlet, so nothing gets downgraded.
            "websockets>=12",
            "flask-sock>=0.7",
            "simple-websocket>=1.0",
            "python-socketio[client]>=5.8",
            "flask-socketio>=5.3",
            "gevent-websocket>=0.10",
        ],
    },
    entry_points={"console_scripts": ["greenhttp = greenhttp.cli:main"]},
    scripts=[],
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: gevent",
        "Topic :: Internet :: WWW/HTTP :: HTTP Servers",
    ],
)
