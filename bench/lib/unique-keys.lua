-- wrk script: every request from a new client, `X-API-Key: <prefix>-<n>`, GET <path>.
--   wrk -t1 -c<conns> -d<s>s -s unique-keys.lua <base-url> -- <prefix> [path]
-- Give every run its own prefix and no key repeats across runs.
local counter = 0
local prefix
local path
function init(args)
  prefix = args[1] or "k"
  path = args[2] or "/health"
end
function request()
  counter = counter + 1
  return wrk.format("GET", path, { ["X-API-Key"] = prefix .. "-" .. counter })
end
