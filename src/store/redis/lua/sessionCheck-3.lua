--[[
  sessionCheck: read a live session of this owner without refreshing it (typing, cursors, status),
  or start a Leave: then the call also takes the session's next op sequence number.
  KEYS[1] bucket expiry zset   KEYS[2] bucket sessions hash   KEYS[3] bucket op sequences hash
  ARGV[1] session id   ARGV[2] owner key   ARGV[3] now ms ('0' = Redis TIME)   ARGV[4] '1' = start a Leave
  Returns {status, session JSON, seq}; 1 = live and owned (seq 0 unless a Leave starts),
  -1 = not found / expired / not the owner's
]]
--@include sessions
local now = nowMs(ARGV[3])
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
local sessionJson = redis.call('HGET', KEYS[2], ARGV[1])
if not score or score <= now or not sessionJson then return { -1, '', 0 } end
if cjson.decode(sessionJson).o ~= ARGV[2] then return { -1, '', 0 } end
return { 1, sessionJson, ARGV[4] == '1' and opSeq(KEYS[3], ARGV[1]) or 0 }
