-- wrk script: GET /webrtc/ice-servers with a JWT from VYTAL_BENCH_TOKEN.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("VYTAL_BENCH_TOKEN")

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  for status, n in pairs(statuses) do io.write(string.format("status %d: %d\n", status, n)) end
end
