-- wrk (one thread) sending at a fixed rate instead of as fast as it can, for bench/frontdoor.mjs's
-- paced phase: wrk -t1 -cN -s bench/paced.lua URL -- RATE
--
-- The requests are due on one schedule, RATE per second from 200 ms after the start; each connection, once
-- free, takes the next due time and waits for it (delay(), whole milliseconds: wrk's timers). wrk
-- counts a request's latency from when it is written, so a request written late (every connection
-- was still waiting for an answer when it was due) would hide that wait: such requests are counted
-- (written more than 1 ms after their due time) and printed, and the bench fails a slice that has
-- any, instead of publishing a latency that leaves the wait out.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } tenantctl_paced_timespec;
int clock_gettime(int clock_id, tenantctl_paced_timespec *tp);
]]
local clock = ffi.new("tenantctl_paced_timespec")
local CLOCK_MONOTONIC = 1
local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1e6 + tonumber(clock.tv_nsec) / 1e3
end

local interval_us
local start
-- The schedule starts this long after the first connection asks: every connection makes its TCP
-- and TLS set-up before the first request is due, so no request waits behind the handshakes (a
-- slice is a new wrk, with new connections).
local warmup_us = 200000
local slot = 0
-- Globals, read by done() through thread:get().
late = 0
max_late_us = 0
due_count = 0

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local rate = tonumber(args[1])
  if not rate or rate <= 0 then error("paced.lua needs the rate (requests per second) after --") end
  interval_us = 1e6 / rate
end

function delay()
  local now = now_us()
  start = start or now + warmup_us
  local due = start + slot * interval_us
  slot = slot + 1
  due_count = due_count + 1
  local wait = due - now
  if wait < 0 then
    if -wait > max_late_us then max_late_us = -wait end
    if -wait > 1000 then late = late + 1 end
    return 0
  end
  return math.floor(wait / 1000 + 0.5)
end

function done(summary, latency, requests)
  local t = threads[1]
  io.write(string.format("paced: due %d late %d max_late_us %.0f p50_us %d p99_us %d\n",
    t:get("due_count"), t:get("late"), t:get("max_late_us"), latency:percentile(50), latency:percentile(99)))
end
