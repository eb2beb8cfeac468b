--[[
  sessionSetNode: record the node a live session is now attached to (a WebSocket or a watch stream
  of that node keeps it alive), so PurgeNode of a crashed node finds it. No-op when the session is
  gone, not the owner's, or already recorded for this node.
  KEYS[1] bucket expiry zset   KEYS[2] bucket sessions hash
  ARGV[1] session id   ARGV[2] owner key   ARGV[3] node id   ARGV[4] now ms ('0' = Redis TIME)
  Returns {status}; 1 = recorded, 0 = already this node, -1 = not found / expired / not owned
]]
local now = nowMs(ARGV[4])
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
local json = redis.call('HGET', KEYS[2], ARGV[1])
if not score or score <= now or not json then return { -1 } end
local s = cjson.decode(json)
if s.o ~= ARGV[2] then return { -1 } end
if s.n == ARGV[3] then return { 0 } end
s.n = ARGV[3]
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(s))
return { 1 }
