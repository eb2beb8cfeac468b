--[[
  sessionStamp: an activity signal of a session (core/session-activity.ts): its last activity `la`
  moves to now (never back) and, while it is active, its away deadline (la + aw) in the away index.
  Fenced: an expired or gone session changes nothing.
  KEYS[1] bucket expiry zset   KEYS[2] bucket sessions hash   KEYS[3] bucket away zset
  KEYS[4] the session's rooms hash
  ARGV[1] session id   ARGV[2] now ms ('0' = Redis TIME)
  Returns {1, la, session JSON, room, room, …} (the rooms whose member entries then carry la), or
  {-1} when the session is not live
]]
--@include sessions
local now = nowMs(ARGV[2])
local sid = ARGV[1]
local exp = tonumber(redis.call('ZSCORE', KEYS[1], sid))
local json = exp and exp > now and redis.call('HGET', KEYS[2], sid)
if not json then return { -1 } end
local s = cjson.decode(json)
if (tonumber(s.la) or 0) < now then s.la = now end
json = cjson.encode(s)
redis.call('HSET', KEYS[2], sid, json)
awayIndex(KEYS[3], sid, s)
local out = { 1, s.la, json }
for _, room in ipairs(redis.call('HKEYS', KEYS[4])) do out[#out + 1] = room end
return out
