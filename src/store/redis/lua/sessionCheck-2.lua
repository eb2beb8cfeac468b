--[[
  sessionCheck: read a live session of this owner without refreshing it (typing, cursors, status).
  KEYS[1] bucket expiry zset   KEYS[2] bucket sessions hash
  ARGV[1] session id   ARGV[2] owner key   ARGV[3] now ms ('0' = Redis TIME)
  Returns {status, session JSON}; 1 = live and owned, -1 = not found / expired / not the owner's
]]
local now = nowMs(ARGV[3])
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
local sessionJson = redis.call('HGET', KEYS[2], ARGV[1])
if not score or score <= now or not sessionJson then return { -1, '' } end
if cjson.decode(sessionJson).o ~= ARGV[2] then return { -1, '' } end
return { 1, sessionJson }
