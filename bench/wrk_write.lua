-- wrk script: create a new version on each request, round-robin over N configs.
--
-- wrk -s wrk_write.lua URL -- <nonce> <configs> <path prefix>
-- With CONFLUX_BENCH_TOKEN set, every request carries `Authorization: Bearer <token>`.
-- Every body is distinct (nonce, thread id, per-thread counter), so the node never
-- answers "same content as the latest version": each 201 is a version really created.

local threads = {}
local counter = 0
local nonce, configs, prefix

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  local token = os.getenv("CONFLUX_BENCH_TOKEN")
  if token and token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  nonce = args[1] or "run"
  configs = tonumber(args[2] or "16")
  prefix = args[3] or "/api/v1/configs/bench/app/prod/cfg"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local path = string.format("%s%02d/versions", prefix, (counter + tid) % configs)
  local body = string.format(
    '{"content":"{\\"n\\":%d,\\"t\\":%d,\\"r\\":\\"%s\\"}","message":"bench"}',
    counter, tid, nonce)
  return wrk.format("POST", path, nil, body)
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
