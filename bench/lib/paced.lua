-- wrk script: one client at a steady, bounded request rate, with a p95.
--
--   wrk -t1 -c<conns> -d<s>s -s paced.lua <base-url> -- <rate/s> <METHOD> <path> [X-API-Key] [json body]
--
-- Pacing: one schedule per wrk thread (run it with -t1): request i is due at
-- start + i / rate. `delay()` (called before every request on any connection) hands
-- out the next slot, so the thread never sends faster than `rate`, whatever the
-- connection count; when the server stalls, requests already due go out at once
-- (catch-up) on the other connections. Keep enough connections that some are always
-- free: then a slow answer does not delay the next request, and latency is that of
-- each request, not of a closed loop (wrk2's correction, without wrk2).
-- wrk's timers have 1 ms resolution: a slot is rounded down to the millisecond, so
-- single requests go up to 1 ms early, but the average rate is exact.
-- The clock is CLOCK_MONOTONIC through LuaJIT's ffi (wrk's Lua has no ms clock).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local interval_ms
local next_ms

function init(args)
  interval_ms = 1000 / tonumber(args[1])
  wrk.method = args[2] or "GET"
  wrk.path = args[3] or "/"
  if args[4] ~= nil and args[4] ~= "" then wrk.headers["X-API-Key"] = args[4] end
  if args[5] ~= nil and args[5] ~= "" then
    wrk.body = args[5]
    wrk.headers["Content-Type"] = "application/json"
  end
end

function delay()
  local now = now_ms()
  if next_ms == nil then next_ms = now end
  next_ms = next_ms + interval_ms
  local wait = next_ms - now
  if wait < 0 then return 0 end
  return wait
end

-- One machine-readable line; latencies in µs.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'PACED {"requests":%d,"durationUs":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,' ..
    '"p50Us":%d,"p90Us":%d,"p95Us":%d,"p99Us":%d,"maxUs":%d}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.max))
end
