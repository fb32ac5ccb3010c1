-- W5, RF2 and the large-graph writes: PUT this client's whole graph (as an editor saves it),
-- following the ETag chain.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local client, headers, body

function init(args)
  client = current_client()
  etag = string.format('"%d"', client.version)
  headers = auth_headers()
  local file = assert(io.open(client.body_file, "rb"))
  body = file:read("*a")
  file:close()
end

function request()
  headers["If-Match"] = etag
  return wrk.format("PUT", client.graph_path, headers, body)
end

response = follow_etag
