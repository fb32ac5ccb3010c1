-- R1: PUT this client's whole graph alternating two definitions, so that every save differs
-- from the latest revision and records one; follows the ETag chain.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local client, headers
local bodies = {}
local turn = 0

function init(args)
  client = current_client()
  etag = string.format('"%d"', client.version)
  headers = auth_headers()
  for index, path in ipairs(client.body_files) do
    local file = assert(io.open(path, "rb"))
    bodies[index] = file:read("*a")
    file:close()
  end
end

function request()
  headers["If-Match"] = etag
  turn = turn % #bodies + 1
  return wrk.format("PUT", client.graph_path, headers, bodies[turn])
end

response = follow_etag
