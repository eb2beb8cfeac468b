--[[
  sessionLeaveRoom: forget that a live session is in a room (Leave, Navigate's source) unless a newer
  membership call listed it again meanwhile; a session that leaves its last room ends (its keys are
  deleted).
  KEYS[1] bucket expiry zset   KEYS[2] bucket sessions hash   KEYS[3] the session's rooms hash
  KEYS[4] bucket owners hash (quota key → live sessions)   KEYS[5] bucket op sequences hash
  KEYS[6] standalone: the session's quota set (lib/quota); Cluster: any key of this slot, unused
  ARGV[1] session id   ARGV[2] owner key   ARGV[3] now ms ('0' = Redis TIME)   ARGV[4] room
  ARGV[5] the leaving call's number (a listing written by a later call is kept)
  ARGV[6] '1' = an ended session leaves its quota set KEYS[6] here (standalone), '' = the caller
  does (Cluster)
  Returns {status, session JSON}; 1 = left, 2 = left and the session ended, 0 = not in the room,
  3 = listed again by a later call (kept), -1 = not found / expired / not the owner's
]]
--@include sessions
local now = nowMs(ARGV[3])
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
local sessionJson = redis.call('HGET', KEYS[2], ARGV[1])
if not score or score <= now or not sessionJson then return { -1, '' } end
local session = cjson.decode(sessionJson)
if session.o ~= ARGV[2] then return { -1, '' } end
local listed = redis.call('HGET', KEYS[3], ARGV[4])
if not listed then return { 0, sessionJson } end
if listingSeq(listed) > tonumber(ARGV[5]) then return { 3, sessionJson } end
redis.call('HDEL', KEYS[3], ARGV[4])
if redis.call('HLEN', KEYS[3]) > 0 then return { 1, sessionJson } end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local quota = session.q or session.o
if redis.call('HINCRBY', KEYS[4], quota, -1) <= 0 then redis.call('HDEL', KEYS[4], quota) end
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[5], ARGV[1])
if ARGV[6] == '1' then redis.call('ZREM', KEYS[6], ARGV[1]) end
return { 2, sessionJson }
