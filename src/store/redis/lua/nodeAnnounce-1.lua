--[[
  nodeAnnounce: record that a node is alive now in the node registry, and forget entries not
  announced for the retention (nodes that stopped long ago; the hash stays as small as the set of
  recent nodes, so reading it whole here is cheap).
  KEYS[1] node registry hash (node id → last announcement ms)
  ARGV[1] node id   ARGV[2] now ms ('0' = Redis TIME)   ARGV[3] retention ms
  Returns {now}
]]
local now = nowMs(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if tonumber(all[i + 1]) < now - tonumber(ARGV[3]) then redis.call('HDEL', KEYS[1], all[i]) end
end
redis.call('HSET', KEYS[1], ARGV[1], now)
return { now }
