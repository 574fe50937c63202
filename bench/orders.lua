-- wrk script: record orders that earn points (durable writes).
--
--   REGULARS_KEY=rk_... BENCH_MEMBERS=100000 \
--     wrk -t2 -c32 -d10s --latency -s bench/orders.lua http://127.0.0.1:8080
--
-- Each request is POST /api/v1/orders for a random existing member, found by phone in national
-- format (the cashier's usual way; the server normalises it with libphonenumber):
--   {"external_id":"<run>-<thread>-<n>","phone":"09xxxxxxxx","total_minor":T,
--    "items":[{"sku":"SKU-3","name":"Item 3","quantity":Q,"unit_price_minor":P}, ...]}
-- with 1 to 3 items and total_minor their sum, an `Authorization: Bearer` API key and a fresh
-- `Idempotency-Key` per request (so the server also stores the key and the answer).
-- external_id is unique per request: a run tag (BENCH_RUN, default the start time and a random
-- number, so several runs against one database do not collide), the wrk thread and a counter.
-- Phones follow bench_gen_members' formula for member index i (0 <= i < BENCH_MEMBERS):
--   national "091" .. 7 digits of (i * 7919 + 1234567) mod 10^7
-- The server must have a point type and an earning rule for the orders to earn (run_orders.sh
-- creates them). Anything but a 2xx answer counts as an error.
-- done() prints one machine-readable line:
--   RESULT requests=N duration_s=S rps=R p50_us=A p99_us=B non2xx=C socket_errors=D
-- A run with non2xx > 0 or socket_errors > 0 is not a valid measurement.

local key = os.getenv("REGULARS_KEY") or error("set REGULARS_KEY to the API key")
local members = tonumber(os.getenv("BENCH_MEMBERS") or "100000")
math.randomseed(os.time())
local run = os.getenv("BENCH_RUN") or string.format("%d%04d", os.time(), math.random(0, 9999))

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
  ["Idempotency-Key"] = "",
}
local n = 0
non2xx = 0

function init(args)
  math.randomseed(id * 7777 + os.time())
end

function request()
  n = n + 1
  local ext = string.format("%s-%d-%d", run, id, n)
  local i = math.random(0, members - 1)
  local k = (i * 7919 + 1234567) % 10000000
  local items = {}
  local total = 0
  for line = 1, math.random(1, 3) do
    local sku = math.random(1, 50)
    local qty = math.random(1, 3)
    local price = 50 * math.random(1, 20)
    total = total + qty * price
    items[line] = string.format(
      '{"sku":"SKU-%d","name":"Item %d","quantity":%d,"unit_price_minor":%d}', sku, sku, qty, price)
  end
  local body = string.format('{"external_id":"%s","phone":"091%07d","total_minor":%d,"items":[%s]}',
    ext, k, total, table.concat(items, ","))
  headers["Idempotency-Key"] = "k-" .. ext
  return wrk.format("POST", "/api/v1/orders", headers, body)
end

function response(status, hdrs, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if non2xx <= 3 then
      io.stderr:write("orders.lua: HTTP " .. status .. ": " .. tostring(body) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local secs = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d duration_s=%.2f rps=%.1f p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
    summary.requests, secs, summary.requests / secs, latency:percentile(50),
    latency:percentile(99), bad, socket_errors))
end
