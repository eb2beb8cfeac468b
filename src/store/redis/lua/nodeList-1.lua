--[[
  nodeList: the node registry and the store's current time, read together so that ages are
  measured on one clock (Redis TIME, or the injected test clock).
  KEYS[1] node registry hash (node id → last announcement ms)
  ARGV[1] now ms ('0' = Redis TIME)
  Returns {now, nodeId, lastSeenMs, nodeId, lastSeenMs, ...}
]]
local out = { nowMs(ARGV[1]) }
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all do out[#out + 1] = all[i] end
return out
