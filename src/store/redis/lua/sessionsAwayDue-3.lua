--[[
  sessionsAwayDue: the away sweep of one session bucket (server-side away, core/session-activity.ts).
  The away index scores each active session by its deadline (la + aw, lib/sessions awayIndex);
  candidates are those whose deadline has passed. Each one still active whose deadline, read again
  from its record, has passed is set away here (its rooms and user status are updated by the
  caller, like an activity change of Heartbeat) and leaves the index. Gone sessions, sessions away
  already and sessions without a threshold leave the index; a deadline that moved (an index entry
  of an older version, scored by its last activity) is scored again. A later activity signal puts
  a session back.
  KEYS[1] bucket away zset (session id → away deadline ms)   KEYS[2] bucket sessions hash
  KEYS[3] bucket expiry zset
  ARGV[1] now ms ('0' = Redis TIME)   ARGV[2] most candidates
  Returns a flat list: session id, session JSON after the change, … (only sessions made away)
]]
local now = nowMs(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for i = 1, #due, 2 do
  local sid, score = due[i], tonumber(due[i + 1])
  local exp = tonumber(redis.call('ZSCORE', KEYS[3], sid))
  local json = exp and exp > now and redis.call('HGET', KEYS[2], sid)
  if not json then
    redis.call('ZREM', KEYS[1], sid)
  else
    local s = cjson.decode(json)
    local aw = tonumber(s.aw) or 0
    if aw <= 0 or s.act ~= 'active' then
      redis.call('ZREM', KEYS[1], sid)
    else
      if not s.la then
        s.la = score -- an index entry of an older version: its score was the last activity
        redis.call('HSET', KEYS[2], sid, cjson.encode(s))
      end
      local deadline = tonumber(s.la) + aw
      if deadline > now then
        redis.call('ZADD', KEYS[1], deadline, sid)
      else
        s.act = 'away'
        local changed = cjson.encode(s)
        redis.call('HSET', KEYS[2], sid, changed)
        redis.call('ZREM', KEYS[1], sid)
        out[#out + 1] = sid
        out[#out + 1] = changed
      end
    end
  end
end
return out
