--[[
  userSession: record a session's activity under its user, or its end, and publish the user's new
  status when it changed (online when a session is active, away when all are away, offline when
  none: then last seen = now and the record expires after the last-seen retention).
  KEYS[1] user status hash (fields: "s:<sessionId>" → activity, ls last seen, vls last seen shown
  while invisible, cs custom status, inv '1' when invisible, sc when cs or inv last changed)
  KEYS[2] a guarded `set`: the room's member hash of the session's first Join; KEYS[3] the session's
  bucket hash of session records (standalone only: sent right after that Join's session and room
  steps on the same connection). Without a guard both are KEYS[1] again
  ARGV[1] userId   ARGV[2] op: set | end | forget   ARGV[3] session id   ARGV[4] activity (for set)
  `forget` undoes the `set` of a session whose first Join was refused (ROOM_FULL, ROOM_ENDED): the
  user was never present through it, so their last seen stays what it was (a user never seen
  before keeps no record) and the record expires after the retention counted from that last seen.
  ARGV[5] now ms ('0' = Redis TIME)   ARGV[6] last-seen retention ms   ARGV[7] channel
  ARGV[8] PUBLISH|SPUBLISH
  ARGV[9..13] (set only; '' when none) a restore: last seen, last seen shown while invisible, custom
  status, '1' invisible | '0', when they last changed (ms). Applied only when the user has no record
  (the hash does not exist: never seen, expired, or lost with a data loss), before the session is
  added, so the status this call publishes already carries it (core/user-presence.ts
  applyUserSession); never over an existing record
  ARGV[14] (guarded set) the Join's connection id, else '': the `set` applies only if the Join's
  steps before it left both its member (field ARGV[14] of KEYS[2]) and its session (field ARGV[3]
  of KEYS[3]); otherwise the Join was refused (ROOM_FULL, ROOM_ENDED, quota, maxmemory) and the
  user, never present through it, is left untouched: no watcher sees them online for a moment
  Returns {changed (1, 0, or -1: held back by the guard), status JSON, now ms, sc}: the status after the call (published only when it
  changed) and when its custom status or invisible flag last changed (0 = never), which the node
  keeps to restore them after Redis lost its data
]]
--@include users
local now = nowMs(ARGV[5])
local before = aggregate(KEYS[1])
local field = 's:' .. ARGV[3]
if ARGV[2] == 'set' and ARGV[14] ~= '' and (redis.call('HEXISTS', KEYS[2], ARGV[14]) == 0 or redis.call('HEXISTS', KEYS[3], ARGV[3]) == 0) then
  return { -1, statusJson(ARGV[1], before, KEYS[1]), now, sc(KEYS[1]) }
end
if ARGV[2] == 'set' then
  if ARGV[9] ~= '' and redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('HSET', KEYS[1], 'ls', ARGV[9], 'vls', ARGV[10], 'cs', ARGV[11], 'inv', ARGV[12], 'sc', ARGV[13])
  end
  redis.call('HSET', KEYS[1], field, ARGV[4])
  redis.call('PERSIST', KEYS[1])
else
  if redis.call('HDEL', KEYS[1], field) == 0 then return { 0, statusJson(ARGV[1], before, KEYS[1]), now, sc(KEYS[1]) } end
end
local after = aggregate(KEYS[1])
if after == 'offline' and ARGV[2] == 'forget' then
  local ls = tonumber(redis.call('HGET', KEYS[1], 'ls'))
  if ls then redis.call('PEXPIREAT', KEYS[1], ls + tonumber(ARGV[6])) else redis.call('DEL', KEYS[1]) end
elseif after == 'offline' then
  redis.call('HSET', KEYS[1], 'ls', now)
  if redis.call('HGET', KEYS[1], 'inv') ~= '1' then redis.call('HSET', KEYS[1], 'vls', now) end
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
end
if before == after then return { 0, statusJson(ARGV[1], after, KEYS[1]), now, sc(KEYS[1]) } end
local out = statusJson(ARGV[1], after, KEYS[1])
redis.call(ARGV[8], ARGV[7], out)
return { 1, out, now, sc(KEYS[1]) }
