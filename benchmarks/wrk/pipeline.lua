-- 16 GETs in one write per round trip (HTTP/1.1 pipelining, 16 deep).
-- wrk parses every response, so each of the 16 counts as a request.
local depth = 16

init = function(args)
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format(nil, "/")
  end
  req = table.concat(r)
end

request = function()
  return req
end

-- Print wrk's exact totals on one line for benchmarks/servers.py to parse
-- (its own summary rounds them): requests, bytes read, microseconds, errors.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("GREENHTTP_BENCH requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.bytes, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout))
end
