--[[
  sessionsHeartbeat: refresh many sessions of one bucket in one call (heartbeats are batched per
  bucket per event-loop turn). Each entry is fenced: an expired or reaped session is refused and
  never recreated. An entry with an owner key is checked against the session's owner (Heartbeat,
  attach); an entry with an empty owner is a node refresh of a session it already verified.
  A new activity is stored; the caller then updates the session's rooms.
  KEYS[1] bucket expiry zset   KEYS[2] bucket sessions hash
  ARGV[1] now ms ('0' = Redis TIME)   ARGV[2] TTL ms (per entry, see below)
  ARGV[3..] groups of 4: session id, owner key ('' = node refresh), activity ('' = keep), TTL ms
  Returns a flat list per entry: status, expiresAt, session JSON (when the activity changed, else '')
  status 1 = refreshed, 2 = refreshed and activity changed, -1 = not found / expired / not owned
]]
local now = nowMs(ARGV[1])
local out = {}
for i = 3, #ARGV, 4 do
  local sid = ARGV[i]
  local score = tonumber(redis.call('ZSCORE', KEYS[1], sid))
  local sessionJson = score and score > now and redis.call('HGET', KEYS[2], sid)
  local status, expiresAt, changed = -1, 0, ''
  if sessionJson then
    local s = cjson.decode(sessionJson)
    if ARGV[i + 1] == '' or s.o == ARGV[i + 1] then
      expiresAt = now + tonumber(ARGV[i + 3])
      redis.call('ZADD', KEYS[1], expiresAt, sid)
      status = 1
      if ARGV[i + 2] ~= '' and ARGV[i + 2] ~= s.act then
        s.act = ARGV[i + 2]
        changed = cjson.encode(s)
        redis.call('HSET', KEYS[2], sid, changed)
        status = 2
      end
    end
  end
  out[#out + 1] = status
  out[#out + 1] = expiresAt
  out[#out + 1] = changed
end
return out
