--[[
  sessionNavigate: add the target room to a live session's room list, within the per-session
  room limit counted as if the source room were already left, and refresh its expiry. The source
  room stays listed until the caller has left it (sessionLeaveRoom), so every room member is always
  listed under its session and a crash in between leaves no member the reaper cannot find.
  KEYS[1] bucket expiry zset   KEYS[2] bucket sessions hash   KEYS[3] the session's rooms hash
  KEYS[4] bucket op sequences hash
  ARGV[1] session id   ARGV[2] owner key   ARGV[3] now ms ('0' = Redis TIME)   ARGV[4] TTL ms
  ARGV[5] from room ('' = none)   ARGV[6] to room   ARGV[7] metadata JSON for the new room
  ARGV[8] max rooms per session
  Returns {status, expiresAt, session JSON, leftFrom, seq}; 1 = ok (seq: this call's number, carried
  by its room leave and join and by the unlisting of the source room), -1 = not found, -2 = too many
  rooms (then expiresAt is the room count it would have)
]]
--@include sessions
local now = nowMs(ARGV[3])
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
local sessionJson = redis.call('HGET', KEYS[2], ARGV[1])
if not score or score <= now or not sessionJson then return { -1, 0, '', 0, 0 } end
if cjson.decode(sessionJson).o ~= ARGV[2] then return { -1, 0, '', 0, 0 } end
local leaving = ARGV[5] ~= '' and ARGV[5] ~= ARGV[6] and redis.call('HEXISTS', KEYS[3], ARGV[5]) == 1
local after = redis.call('HLEN', KEYS[3]) - (leaving and 1 or 0) + (redis.call('HEXISTS', KEYS[3], ARGV[6]) == 1 and 0 or 1)
if after > tonumber(ARGV[8]) then return { -2, after, '', 0, 0 } end
local seq = opSeq(KEYS[4], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[6], listing(seq, ARGV[7]))
local expiresAt = now + tonumber(ARGV[4])
redis.call('ZADD', KEYS[1], expiresAt, ARGV[1])
return { 1, expiresAt, sessionJson, leaving and 1 or 0, seq }
