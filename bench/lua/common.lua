-- Shared by every workload script: the run's parameters, per-connection state, the summary line.
-- BENCH_PARAMS names a Lua file written by the harness (`return { token = ..., ... }`).
params = dofile(os.getenv("BENCH_PARAMS"))
status_counts = {}

local threads = {}

-- Main state: give every wrk thread an index (the harness runs one connection per thread for
-- workloads whose clients keep state, so a thread is a client).
function setup(thread)
  thread:set("client_index", #threads)
  table.insert(threads, thread)
end

-- Thread state: this thread's client (its own workflow, version and items), if any.
function current_client()
  if params.clients == nil then
    return nil
  end
  return params.clients[client_index % #params.clients + 1]
end

-- The run's headers, with params.headers added or overriding (React Flow's media types, gzip).
function auth_headers()
  local headers = {
    ["Authorization"] = "Bearer " .. params.token,
    ["Accept"] = "application/json",
    ["Content-Type"] = "application/json",
  }
  for name, value in pairs(params.headers or {}) do
    headers[(name:gsub("_", "-"))] = value  -- Lua names: Accept_Encoding is Accept-Encoding
  end
  return headers
end

function count_status(status)
  status_counts[status] = (status_counts[status] or 0) + 1
end

-- A response of a versioned write: remember the ETag (also sent with 412) for the next request.
function follow_etag(status, headers)
  count_status(status)
  local tag = headers["etag"] or headers["ETag"]
  if tag ~= nil then
    etag = tag
  end
end

-- Main state: one machine-readable line for the harness.
function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("status_counts") or {}
    for status, count in pairs(counts) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  local statuses = {}
  for status, count in pairs(merged) do
    table.insert(statuses, string.format('"%d":%d', status, count))
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},"statuses":{%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, table.concat(statuses, ",")))
end
