--[[
  sessionsAwayDue: the away sweep of one session bucket (server-side away, session-activity.ts).
  Candidates are sessions whose last activity is at least the smallest away threshold ago; each
  one whose own threshold (session field aw) has passed and that is still active is set away here
  (its rooms and user status are updated by the caller, like an activity change of Heartbeat).
  Gone sessions, sessions away already, and sessions with no threshold leave the index; a later
  activity signal adds them back.
  KEYS[1] bucket away zset (session id → last activity ms)   KEYS[2] bucket sessions hash
  KEYS[3] bucket expiry zset
  ARGV[1] now ms ('0' = Redis TIME)   ARGV[2] smallest threshold ms   ARGV[3] most candidates
  Returns a flat list: session id, session JSON after the change, … (only sessions made away)
]]
local now = nowMs(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]), 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i = 1, #due, 2 do
  local sid, la = due[i], tonumber(due[i + 1])
  local exp = tonumber(redis.call('ZSCORE', KEYS[3], sid))
  local json = exp and exp > now and redis.call('HGET', KEYS[2], sid)
  if not json then
    redis.call('ZREM', KEYS[1], sid)
  else
    local s = cjson.decode(json)
    local aw = tonumber(s.aw) or 0
    if aw <= 0 or s.act ~= 'active' then
      redis.call('ZREM', KEYS[1], sid)
    elseif la + aw <= now then
      s.act = 'away'
      local changed = cjson.encode(s)
      redis.call('HSET', KEYS[2], sid, changed)
      redis.call('ZREM', KEYS[1], sid)
      out[#out + 1] = sid
      out[#out + 1] = changed
    end
  end
end
return out
