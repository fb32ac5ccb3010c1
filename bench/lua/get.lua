-- GET a rotating list of paths (W1, W2, W6 and the large-graph reads); no state between requests.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local headers = auth_headers()
local position = 0

function init(args)
  -- Threads start at different places in the list.
  position = (client_index * 7919) % #params.paths
end

function request()
  position = position % #params.paths + 1
  return wrk.format("GET", params.paths[position], headers)
end
