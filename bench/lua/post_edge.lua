-- W4: POST one new edge into this client's own 500-node workflow, following the ETag chain.
-- New edges join node s to node s + k for k >= params.first_step: never a duplicate of a seeded
-- edge nor of an earlier POST, and (all edges point to a later node) never a cycle.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local client, headers
local step, source

function init(args)
  client = current_client()
  etag = string.format('"%d"', client.version)
  headers = auth_headers()
  step, source = params.first_step, 0
end

local function next_pair()
  if source + step >= #client.node_ids then
    step, source = step + 1, 0
  end
  local pair = {client.node_ids[source + 1], client.node_ids[source + step + 1]}
  source = source + 1
  return pair
end

function request()
  local pair = next_pair()
  local body = string.format('{"source_node_id": "%s", "target_node_id": "%s"}', pair[1], pair[2])
  headers["If-Match"] = etag
  return wrk.format("POST", client.edges_path, headers, body)
end

response = follow_etag
