-- wrk script of bench/ingest and bench/compare: the body of the file BODY,
-- sent with METHOD and Content-Type CTYPE to URLFMT (a format with one
-- number: each request its own name)
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = os.getenv("METHOD")
wrk.headers["Content-Type"] = os.getenv("CTYPE")

-- every thread numbers its requests from its own base: the threads share
-- one random seed, so names drawn at random would repeat across threads
-- and half of DAV's PUTs would overwrite a file (freeing its pages)

local threads = 0
function setup(thread)
    thread:set("base", threads * 100000000)
    threads = threads + 1
end

local n, path = 0, os.getenv("URLFMT")
request = function()
    n = n + 1
    return wrk.format(nil, string.format(path, base + n))
end
