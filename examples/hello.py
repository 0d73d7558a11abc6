"""The smallest greenhttp app: run `greenhttp examples/hello.py`, then `curl localhost:8080`."""


def app(environ, start_response):
    name = environ.get("QUERY_STRING", "").partition("name=")[2] or "world"
    body = f"Hello, {name}!\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("Content-Length", str(len(body)))])
    return [body]
