--[[
  sessionRelease: the last stream bound to a session ended; it now expires after the reconnect
  grace unless refreshed again. Only a live session of this owner is touched, and only by the node
  it is recorded for: once another node attached it (a reconnect landed there), a late release
  from the old node must not cut the new binding down to the grace.
  KEYS[1] bucket expiry zset   KEYS[2] bucket sessions hash
  ARGV[1] session id   ARGV[2] owner key   ARGV[3] now ms ('0' = Redis TIME)   ARGV[4] grace ms
  ARGV[5] releasing node id
  Returns {status}; 1 = released, 0 = recorded for another node (untouched), -1 = not found
]]
local now = nowMs(ARGV[3])
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
local sessionJson = redis.call('HGET', KEYS[2], ARGV[1])
if not score or score <= now or not sessionJson then return { -1 } end
local session = cjson.decode(sessionJson)
if session.o ~= ARGV[2] then return { -1 } end
if session.n and session.n ~= '' and session.n ~= ARGV[5] then return { 0 } end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
return { 1 }
