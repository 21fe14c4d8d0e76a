-- wrk script for bench/create_calls.sh: one request with the JWT from
-- VYTAL_BENCH_TOKEN. VYTAL_BENCH_BODY set: a POST of that JSON body (create
-- call); unset: a GET (ICE servers). Prints the responses by status at the end.
local body = os.getenv("VYTAL_BENCH_BODY")
if body == "" then body = nil end
wrk.method = body and "POST" or "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("VYTAL_BENCH_TOKEN")
if body then
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = body
end

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  for status, n in pairs(statuses) do io.write(string.format("status %d: %d\n", status, n)) end
end
