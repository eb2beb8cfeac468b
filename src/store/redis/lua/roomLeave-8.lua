--[[
  roomLeave: remove a connection from a room; bump, log and publish one `left` (or anonymous count)
  event. Fenced: only the session that owns the connection entry removes it, so a reaper acting on
  an old session never removes a newer one. Stops the user's typing (publishes typing=false when it
  was still active) when their last connection leaves, drops the connection's cursor, and lets the
  room's keys expire after the retention once the room is empty.
  Fencing of interleaved calls on one session (see lib/sessions and roomJoin): an entry written by a
  later call of the session (q above this call's number) stays; every leave leaves a tombstone
  (connectionId → this call's number, for ARGV[11] ms; none when 0) so that an earlier join still
  on its way cannot bring the connection back. Reaping and kicks pass the highest number. A reap
  needs no tombstone: a join still on its way carries its session step's lease end, which the
  reap of an expired session is past, so roomJoin drops it anyway.
  KEYS[1] meta   KEYS[2] members   KEYS[3] counters   KEYS[4] log   KEYS[5] typing   KEYS[6] cursors
  KEYS[7] tombstones hash   KEYS[8] tombstones expiry zset
  ARGV[1] connectionId   ARGV[2] session id that must own the entry   ARGV[3] reason (left|timeout|kicked)
  ARGV[4] now ms ('0' = Redis TIME)   ARGV[5] log max entries   ARGV[6] log max age ms
  ARGV[7] channel   ARGV[8] PUBLISH|SPUBLISH   ARGV[9] room   ARGV[10] retention ms
  ARGV[11] tombstone lifetime ms (the session TTL; 0 = no tombstone)   ARGV[12] the session call's number
  Returns {status, version, event message JSON}; status 1 = left, 0 = not there (no event, '')
]]
local now = nowMs(ARGV[4])
local seq = tonumber(ARGV[12])
local function tombstone()
  if tonumber(ARGV[11]) <= 0 then return end
  local gone = tonumber(redis.call('HGET', KEYS[7], ARGV[1]))
  if not gone or gone < seq then redis.call('HSET', KEYS[7], ARGV[1], ARGV[12]) end
  redis.call('ZADD', KEYS[8], now + tonumber(ARGV[11]), ARGV[1])
  redis.call('PEXPIRE', KEYS[7], tonumber(ARGV[11]) + tonumber(ARGV[10]))
  redis.call('PEXPIRE', KEYS[8], tonumber(ARGV[11]) + tonumber(ARGV[10]))
end
local prevJson = redis.call('HGET', KEYS[2], ARGV[1])
if not prevJson then
  tombstone()
  return { 0, 0, '' }
end
local prev = cjson.decode(prevJson)
if prev.s ~= ARGV[2] or (tonumber(prev.q) or 0) > seq then return { 0, 0, '' } end
tombstone()
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
