--[[
  sessionOpen: create a session, or use / reclaim a live one, and record that it is in a room.
  Refreshes its expiry. Refuses a room beyond the per-session limit. A session that expired or is
  being reaped is never revived (fencing): it answers "not found".
  KEYS[1] bucket expiry zset (sessionId → expiry ms)   KEYS[2] bucket sessions hash (sessionId → JSON)
  KEYS[3] the session's rooms hash (room → metadata JSON)
  KEYS[4] bucket owners hash (owner key → live sessions of that owner in this bucket)
  ARGV[1] mode: new | use | reclaim   ARGV[2] session id   ARGV[3] owner key
  ARGV[4] new: session JSON {sec, c, o, id, act}; reclaim: the resume secret; use: ''
  ARGV[5] now ms ('0' = Redis TIME)   ARGV[6] TTL ms   ARGV[7] room   ARGV[8] metadata JSON
  ARGV[9] max rooms per session   ARGV[10] node id (recorded on the session when reclaimed; a new
  session's JSON already carries it)
  Returns {status, expiresAt, session JSON}; status 1 = ok, -1 = not found (or not the owner's,
  or wrong secret), -2 = too many rooms (then expiresAt is the current room count)
]]
local now = nowMs(ARGV[5])
local sid = ARGV[2]
local sessionJson
if ARGV[1] == 'new' then
  sessionJson = ARGV[4]
  -- Counted once per session record (a re-assertion of a record that survived is not a new one).
  if redis.call('HSET', KEYS[2], sid, sessionJson) == 1 then redis.call('HINCRBY', KEYS[4], ARGV[3], 1) end
else
  local score = tonumber(redis.call('ZSCORE', KEYS[1], sid))
  sessionJson = redis.call('HGET', KEYS[2], sid)
  if not score or score <= now or not sessionJson then return { -1, 0, '' } end
  local s = cjson.decode(sessionJson)
  if s.o ~= ARGV[3] then return { -1, 0, '' } end
  if ARGV[1] == 'reclaim' and s.sec ~= ARGV[4] then return { -1, 0, '' } end
  if redis.call('HEXISTS', KEYS[3], ARGV[7]) == 0 then
    local n = redis.call('HLEN', KEYS[3])
    if n >= tonumber(ARGV[9]) then return { -2, n, '' } end
  end
  if ARGV[1] == 'reclaim' and ARGV[10] and ARGV[10] ~= '' and s.n ~= ARGV[10] then
    s.n = ARGV[10]
    sessionJson = cjson.encode(s)
    redis.call('HSET', KEYS[2], sid, sessionJson)
  end
end
local expiresAt = now + tonumber(ARGV[6])
redis.call('ZADD', KEYS[1], expiresAt, sid)
redis.call('HSET', KEYS[3], ARGV[7], ARGV[8])
return { 1, expiresAt, sessionJson }
