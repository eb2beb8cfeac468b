--[[
  roomTyping: start or stop the typing indicator of a user in a room. Start publishes only when the
  user was not typing (a repeat inside the TTL just extends it); stop publishes only when the
  indicator was still active. Never versioned, never logged.
  KEYS[1] meta   KEYS[2] members   KEYS[3] typing hash (userId → expiry ms)
  ARGV[1] connectionId   ARGV[2] owning session id   ARGV[3] userId   ARGV[4] '1' start | '0' stop
  ARGV[5] now ms ('0' = Redis TIME)   ARGV[6] typing TTL ms   ARGV[7] channel   ARGV[8] PUBLISH|SPUBLISH
  ARGV[9] room
  Returns {status}; 1 = changed (published), 0 = refreshed or no-op, -1 = the session is not in the room
]]
local now = nowMs(ARGV[5])
local mJson = redis.call('HGET', KEYS[2], ARGV[1])
if not mJson or cjson.decode(mJson).s ~= ARGV[2] then return { -1 } end
local untilMs = tonumber(redis.call('HGET', KEYS[3], ARGV[3]))
local active = untilMs ~= nil and untilMs > now
local ttl = tonumber(ARGV[6])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[3], ARGV[3], now + ttl)
  if active then return { 0 } end
  redis.call(ARGV[8], ARGV[7], cjson.encode({ type = 'typing', typing = { room = ARGV[9], userId = ARGV[3], typing = true, expiresInMs = ttl } }))
  return { 1 }
end
if untilMs == nil then return { 0 } end
redis.call('HDEL', KEYS[3], ARGV[3])
if not active then return { 0 } end
redis.call(ARGV[8], ARGV[7], cjson.encode({ type = 'typing', typing = { room = ARGV[9], userId = ARGV[3], typing = false, expiresInMs = 0 } }))
return { 1 }
