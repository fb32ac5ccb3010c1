-- W3: move a node of this client's own workflow, following the ETag chain (If-Match: "<version>").
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local client, headers
local moves = 0

function init(args)
  client = current_client()
  etag = string.format('"%d"', client.version)
  headers = auth_headers()
end

function request()
  moves = moves + 1
  local node_id = client.node_ids[moves % #client.node_ids + 1]
  local body = string.format('{"position_x": %d.5, "position_y": %d.25}', moves % 5000, moves % 700)
  headers["If-Match"] = etag
  return wrk.format("PATCH", client.nodes_path .. "/" .. node_id, headers, body)
end

response = follow_etag
