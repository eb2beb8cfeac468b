--[[
  roomCfgTouch: records activity in an open managed room (never moves its clock back).
  KEYS[1] the room's record
  ARGV[1] now ms ('0' = Redis TIME)
  Returns the room's idle deadline (last activity + idle timeout, ms), or 0 when the room is not an
  open managed room or never idles
]]
local now = nowMs(ARGV[1])
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local r = cjson.decode(cur)
if r.status ~= 'open' then return 0 end
if now > tonumber(r.lastActivityMs) then
  r.lastActivityMs = now
  redis.call('SET', KEYS[1], cjson.encode(r))
end
if tonumber(r.idleTimeoutMs) <= 0 then return 0 end
return tonumber(r.lastActivityMs) + tonumber(r.idleTimeoutMs)
