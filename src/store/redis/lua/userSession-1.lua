--[[
  userSession: record a session's activity under its user, or its end, and publish the user's new
  status when it changed (online when a session is active, away when all are away, offline when
  none: then last seen = now and the record expires after the last-seen retention).
  KEYS[1] user status hash (fields: "s:<sessionId>" → activity, ls last seen, vls last seen shown
  while invisible, cs custom status, inv '1' when invisible)
  ARGV[1] userId   ARGV[2] op: set | end   ARGV[3] session id   ARGV[4] activity (for set)
  ARGV[5] now ms ('0' = Redis TIME)   ARGV[6] last-seen retention ms   ARGV[7] channel
  ARGV[8] PUBLISH|SPUBLISH
  Returns {changed, status JSON ('' when unchanged), now ms}
]]
local now = nowMs(ARGV[5])
local function state()
  local any, fields = false, redis.call('HGETALL', KEYS[1])
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 2) == 's:' then
      if fields[i + 1] == 'active' then return 'online' end
      any = true
    end
  end
  return any and 'away' or 'offline'
end
local before = state()
local field = 's:' .. ARGV[3]
if ARGV[2] == 'set' then
  redis.call('HSET', KEYS[1], field, ARGV[4])
  redis.call('PERSIST', KEYS[1])
else
  if redis.call('HDEL', KEYS[1], field) == 0 then return { 0, '', now } end
end
local after = state()
if after == 'offline' then
  redis.call('HSET', KEYS[1], 'ls', now)
  if redis.call('HGET', KEYS[1], 'inv') ~= '1' then redis.call('HSET', KEYS[1], 'vls', now) end
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
if before == after then return { 0, '', now } end
local f = redis.call('HMGET', KEYS[1], 'ls', 'vls', 'cs', 'inv')
local out = cjson.encode({ userId = ARGV[1], state = after, lastSeenMs = tonumber(f[1]) or 0,
  visibleLastSeenMs = tonumber(f[2]) or 0, customStatus = f[3] or '', invisible = f[4] == '1' })
redis.call(ARGV[8], ARGV[7], out)
return { 1, out, now }
