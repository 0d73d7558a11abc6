-- POST a 1 MiB body to /upload on every request (wrk adds Content-Length).
wrk.method = "POST"
wrk.path = "/upload"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.body = string.rep("x", 1024 * 1024)

-- Print wrk's exact totals on one line for benchmarks/servers.py to parse
-- (its own summary rounds them): requests, bytes read, microseconds, errors.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("GREENHTTP_BENCH requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.bytes, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout))
end
