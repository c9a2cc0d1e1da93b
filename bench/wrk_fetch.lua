-- wrk script: GET /api/v1/fetch/... round-robin over N released configs.
--
-- wrk -s wrk_fetch.lua URL -- <nonce> <configs> <path prefix>
-- With CONFLUX_BENCH_TOKEN set, every request carries `Authorization: Bearer <token>`.

local threads = {}
local counter = 0
local reqs = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  local token = os.getenv("CONFLUX_BENCH_TOKEN")
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  local configs = tonumber(args[2] or "16")
  local prefix = args[3] or "/api/v1/fetch/bench/app/prod/cfg"
  for i = 0, configs - 1 do
    local path = string.format("%s%02d?client_id=bench-%d-%d", prefix, i, tid, i)
    reqs[i + 1] = wrk.format("GET", path)
  end
end

function request()
  counter = counter + 1
  return reqs[(counter + tid) % #reqs + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
