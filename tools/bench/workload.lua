-- The wrk side of tools/bench.py: reads and Entra's PATCH on random seeded users.
--
--   wrk -s tools/bench/workload.lua -H "Authorization: Bearer T" URL -- KIND BASE FILE [START]
--
-- KIND is lookup, get, list or patch; BASE the SCIM root path (/scim/v2 or /v2);
-- FILE has one line per seeded user, "id<TAB>userName percent-encoded", written
-- by tools/bench.py; START is the list page's startIndex.  done() prints one
-- line, "BENCH {json}", which tools/bench.py reads.

local kind, base, start
local users = {}
local sent = 0
local next_number = 1

-- setup() runs in wrk's main Lua state, once per thread, before init(): it
-- numbers the threads so that each seeds its own random sequence.
function setup(thread)
  thread:set("number", next_number)
  next_number = next_number + 1
end

function init(args)
  kind, base, start = args[1], args[2], args[4]
  for line in io.lines(args[3]) do
    local id, name = line:match("^([^\t]+)\t(.+)$")
    users[#users + 1] = {id = id, name = name}
  end
  math.randomseed(os.time() * 100 + number)
end

local function any_user()
  return users[math.random(#users)]
end

-- Microsoft Entra ID's PATCH: capitalised "Replace", booleans as the strings
-- "True" and "False" (alternating, so every request changes the user).
local function entra_patch(n)
  local active = (n % 2 == 0) and "False" or "True"
  return '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[' ..
    '{"op":"Replace","path":"displayName","value":"Renamed ' .. number .. '-' .. n .. '"},' ..
    '{"op":"Replace","path":"active","value":"' .. active .. '"}]}'
end

function request()
  sent = sent + 1
  if kind == "lookup" then
    return wrk.format("GET", base .. "/Users?filter=userName%20eq%20%22" .. any_user().name .. "%22")
  elseif kind == "get" then
    return wrk.format("GET", base .. "/Users/" .. any_user().id)
  elseif kind == "list" then
    return wrk.format("GET", base .. "/Users?startIndex=" .. start .. "&count=100")
  elseif kind == "patch" then
    return wrk.format("PATCH", base .. "/Users/" .. any_user().id, nil, entra_patch(sent))
  end
  error("unknown workload " .. tostring(kind))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "seconds": %.6f, "p50_ms": %.3f, "p99_ms": %.3f, ' ..
    '"non2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
