-- wrk script for bench/rest/run.sh and bench/routes/run.sh: every request is about a random
-- key of the known set, k00000..k<KEYS-1>. MODE (env) picks the request:
--   state (default): GET /state/keyValue/<STORE>/get/<key>   (the REST API's own query)
--   route: GET /v1/counts/<key>                 (bench/routes' query route over `counts`)
--   post:  POST /v1/events {"id": <key>, "amount": 1}   (bench/routes' produce route)
-- Each wrk thread has its own Lua state and seed. done() prints one machine-readable RESULT line.
local keys = tonumber(os.getenv("KEYS") or "10000")
local store = os.getenv("STORE") or "counts"
local mode = os.getenv("MODE") or "state"
local threads = {}
local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("id", counter)
    table.insert(threads, thread)
end

function init(args)
    math.randomseed(1000 + (id or 0))
end

function request()
    local key = string.format("k%05d", math.random(0, keys - 1))
    if mode == "route" then
        return wrk.format("GET", "/v1/counts/" .. key)
    elseif mode == "post" then
        return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/json"}, string.format('{"id": "%s", "amount": 1}', key))
    end
    return wrk.format("GET", string.format("/state/keyValue/%s/get/%s", store, key))
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d seconds=%.3f rps=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
        summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
        e.connect + e.read + e.write + e.status + e.timeout, e.connect, e.read, e.write, e.status, e.timeout))
end
