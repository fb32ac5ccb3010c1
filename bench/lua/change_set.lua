-- C1: move 20 nodes of this client's own 500-node workflow in one PATCH /graph change set,
-- following the ETag chain (If-Match: "<version>"); `params.prefer` is sent as Prefer.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local client, headers
local moves = 0
local MOVED = 20

function init(args)
  client = current_client()
  etag = string.format('"%d"', client.version)
  headers = auth_headers()
  if params.prefer ~= nil and params.prefer ~= "" then
    headers["Prefer"] = params.prefer
  end
end

function request()
  moves = moves + 1
  local updates = {}
  for index = 1, MOVED do
    local node_id = client.node_ids[(moves * MOVED + index) % #client.node_ids + 1]
    updates[index] = string.format(
      '{"id":"%s","position_x":%d.5,"position_y":%d.25}', node_id, moves % 5000, index
    )
  end
  local body = '{"nodes":{"update":[' .. table.concat(updates, ",") .. ']}}'
  headers["If-Match"] = etag
  return wrk.format("PATCH", client.graph_path, headers, body)
end

response = follow_etag
