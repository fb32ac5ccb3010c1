-- GET a rotating list of paths (W1, W2, W6, the large-graph reads, gzip ones); no state kept.
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
