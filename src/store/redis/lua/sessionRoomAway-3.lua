--[[
  sessionRoomAway: records the away_after_ms of a managed room the session is in (0: the room has
  none, or the session left it), recomputes the session's threshold (aw, lib/sessions combineAway)
  and its away deadline. Fenced: an expired or gone session changes nothing.
  KEYS[1] bucket expiry zset   KEYS[2] bucket sessions hash   KEYS[3] bucket away zset
  ARGV[1] session id   ARGV[2] room   ARGV[3] the room's away_after_ms (0 = none)
  ARGV[4] now ms ('0' = Redis TIME)
  Returns {1, session JSON} when the record changed, {0, ''} when not, {-1, ''} when not live
]]
--@include sessions
local now = nowMs(ARGV[4])
local sid = ARGV[1]
local exp = tonumber(redis.call('ZSCORE', KEYS[1], sid))
local json = exp and exp > now and redis.call('HGET', KEYS[2], sid)
if not json then return { -1, '' } end
local s = cjson.decode(json)
local ms = tonumber(ARGV[3]) or 0
if type(s.ra) ~= 'table' then s.ra = {} end
local before = tonumber(s.ra[ARGV[2]]) or 0
if before == ms then return { 0, '' } end
s.ra[ARGV[2]] = ms > 0 and ms or nil
s.aw = combineAway(s)
if next(s.ra) == nil then s.ra = nil end
json = cjson.encode(s)
redis.call('HSET', KEYS[2], sid, json)
awayIndex(KEYS[3], sid, s)
return { 1, json }
