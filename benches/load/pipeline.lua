-- wrk script: send requests pipelined, `depth` at a time (default 16).
-- usage: wrk -s benches/load/pipeline.lua ... -- 16
init = function(args)
  local depth = tonumber(args[1]) or 16
  local r = {}
  for i = 1, depth do
    r[i] = wrk.format("GET", "/")
  end
  req = table.concat(r)
end

request = function()
  return req
end
