-- W7: POST /workflows with a fixed body (prepared once by wrk, no Lua per request).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

wrk.method = "POST"
wrk.path = params.path
wrk.headers = auth_headers()
wrk.body = params.body
