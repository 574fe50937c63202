-- wrk script: member lookup by phone.
--
--   REGULARS_KEY=rk_... BENCH_MEMBERS=1000000 \
--     wrk -t2 -c32 -d10s --latency -s bench/lookup.lua http://127.0.0.1:8080
--
-- Each request is POST /api/v1/members/lookup {"phone":"09xxxxxxxx"} for a random existing
-- member, in national format so the server's phone normalisation runs too. Phones follow
-- bench_gen_members' formula for member index i (0 <= i < BENCH_MEMBERS):
--   national "091" .. 7 digits of (i * 7919 + 1234567) mod 10^7
-- done() prints one machine-readable line:
--   RESULT requests=N duration_s=S rps=R p50_us=A p99_us=B non200=C socket_errors=D
-- A run with non200 > 0 or socket_errors > 0 is not a valid measurement.

local key = os.getenv("REGULARS_KEY") or error("set REGULARS_KEY to the API key")
local members = tonumber(os.getenv("BENCH_MEMBERS") or "1000000")

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local headers = {
  ["Authorization"] = "Bearer " .. key,
  ["Content-Type"] = "application/json",
}
non200 = 0

function init(args)
  math.randomseed(id * 7777 + os.time())
end

function request()
  local i = math.random(0, members - 1)
  local k = (i * 7919 + 1234567) % 10000000
  local body = string.format('{"phone":"091%07d"}', k)
  return wrk.format("POST", "/api/v1/members/lookup", headers, body)
end

function response(status, hdrs, body)
  if status ~= 200 then
    non200 = non200 + 1
    if non200 <= 3 then
      io.stderr:write("lookup.lua: HTTP " .. status .. ": " .. tostring(body) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non200")
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_s=%.2f rps=%.1f p50_us=%d p99_us=%d non200=%d socket_errors=%d\n",
    summary.requests, secs, summary.requests / secs, latency:percentile(50),
    latency:percentile(99), bad, socket_errors))
end
