-- wrk script: POST /webrtc/calls with the platform's own body and a JWT from
-- the environment (VYTAL_BENCH_TOKEN).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("VYTAL_BENCH_TOKEN")
wrk.body = '{"patientId":"patient-uuid","providerId":"provider-uuid","type":"video"}'

local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  for status, n in pairs(statuses) do io.write(string.format("status %d: %d\n", status, n)) end
end
