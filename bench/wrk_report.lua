-- wrk prints one machine-readable line at the end: requests, duration (us), errors, latency
-- percentiles (us), and pages that came back degraded (a section marked unavailable).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  degraded = 0
end

function response(status, headers, body)
  if body and string.find(body, 'class="empty warn" role="status"', 1, true) then
    degraded = degraded + 1
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("degraded")
  end
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), bad))
end
