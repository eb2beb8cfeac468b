--[[
  roomLeave: remove a connection from a room; bump, log and publish one `left` (or anonymous count)
  event. Fenced: only the session that owns the connection entry removes it, so a reaper acting on
  an old session never removes a newer one. Stops the user's typing (publishes typing=false when it
  was still active) when their last connection leaves, drops the connection's cursor, and lets the
  room's keys expire after the retention once the room is empty.
  KEYS[1] meta   KEYS[2] members   KEYS[3] counters   KEYS[4] log   KEYS[5] typing   KEYS[6] cursors
  ARGV[1] connectionId   ARGV[2] session id that must own the entry   ARGV[3] reason (left|timeout|kicked)
  ARGV[4] now ms ('0' = Redis TIME)   ARGV[5] log max entries   ARGV[6] log max age ms
  ARGV[7] channel   ARGV[8] PUBLISH|SPUBLISH   ARGV[9] room   ARGV[10] retention ms
  Returns {status, version, event message JSON}; status 1 = left, 0 = not there (no event, '')
]]
local now = nowMs(ARGV[4])
local prevJson = redis.call('HGET', KEYS[2], ARGV[1])
if not prevJson then return { 0, 0, '' } end
local prev = cjson.decode(prevJson)
if prev.s ~= ARGV[2] then return { 0, 0, '' } end
redis.call('HDEL', KEYS[2], ARGV[1])
local idKey = (prev.k == 'u') and ('u:' .. prev.u.userId) or ('a:' .. prev.a)
local n = redis.call('HINCRBY', KEYS[3], idKey, -1)
if n <= 0 then redis.call('HDEL', KEYS[3], idKey) end
redis.call('HINCRBY', KEYS[1], 'nc', -1)
local ev = { room = ARGV[9], epoch = redis.call('HGET', KEYS[1], 'e'), timeMs = now }
if prev.k == 'u' then
  if n <= 0 then redis.call('HINCRBY', KEYS[1], 'nu', -1) end
  ev.kind = 'left'
  ev.userId = prev.u.userId
  ev.connectionId = ARGV[1]
  ev.reason = ARGV[3]
  ev.lastOfUser = (n <= 0)
else
  if n <= 0 then redis.call('HINCRBY', KEYS[1], 'na', -1) end
  ev.kind = 'anonymous'
  ev.viewersDelta = (n <= 0) and -1 or 0
  ev.connectionsDelta = -1
end
ev.version = redis.call('HINCRBY', KEYS[1], 'v', 1)
ev.counts = counts(KEYS[1])
local msg = commit(KEYS[1], KEYS[4], ev, ARGV[5], ARGV[6], ARGV[8], ARGV[7])
if prev.k == 'u' and n <= 0 then
  local untilMs = tonumber(redis.call('HGET', KEYS[5], prev.u.userId))
  if untilMs then
    redis.call('HDEL', KEYS[5], prev.u.userId)
    if untilMs > now then
      redis.call(ARGV[8], ARGV[7], cjson.encode({ type = 'typing', typing = { room = ARGV[9], userId = prev.u.userId, typing = false, expiresInMs = 0 } }))
    end
  end
end
if redis.call('HDEL', KEYS[6], ARGV[1]) == 1 then
  redis.call(ARGV[8], ARGV[7], cjson.encode({ type = 'cursors', batch = { room = ARGV[9], cursors = {}, removedConnectionIds = { ARGV[1] } } }))
end
if ev.counts.connections <= 0 then
  for i = 1, 6 do redis.call('PEXPIRE', KEYS[i], ARGV[10]) end
end
return { 1, ev.version, msg }
