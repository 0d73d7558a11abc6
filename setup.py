from setuptools import find_packages, setup

with open("greenhttp/_version.py") as f:
    version = f.read().split('"')[1]

with open("README.md", encoding="utf-8") as f:
    long_description = f.read()

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
    ],
    extras_require={
        "test": [
            "pytest>=7",
            "pytest-timeout>=2.1",
            "webtest>=3.0",
            "flask>=2.3",
            "requests>=2.31",
            "trustme>=1.1",
            "pexpect>=4.8",
            "selenium>=4.11",
            "hypothesis>=6.80",
            "watchfiles>=0.21",
        ],
        "reload": ["watchfiles>=0.21"],
    },
    entry_points={"console_scripts": ["greenhttp = greenhttp.cli:main"]},
    scripts=[],
    classifiers=[
        "Programming Language :: Python :: 3",
        "Framework :: gevent",
        "Topic :: Internet :: WWW/HTTP :: HTTP Servers",
    ],
)
