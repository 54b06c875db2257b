-- wrk script: POST /v1/report, each request with its own content.
-- wrk -t2 -c64 -d10s -s examples/report-demo/bench/report.lua http://127.0.0.1:8000/v1/report
-- (wrk prints "Non-2xx or 3xx responses" when any report was refused.)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

local counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, string.format('{"event_name":"wrk","content":"item-%d"}', counter))
end
