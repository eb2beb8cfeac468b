--[[
  roomRead: a room's state in one atomic read (snapshots, GetPresence). A script rather than
  MULTI: Redis refuses every command queued in a MULTI while it is over maxmemory, but runs a
  script that only reads, so watchers still get snapshots when Redis is full (F-R7).
  KEYS[1] meta hash   KEYS[2] members hash   KEYS[3] typing hash   KEYS[4] cursors hash
  ARGV[1] now ms ('0' = Redis TIME)
  Returns {meta {e, v, nu, nc, na}, members (flat), typing (flat), cursors (flat), now ms}:
  typing ends and cursor times are script times, judged against the same clock, not the node's.
]]
return {
  redis.call('HMGET', KEYS[1], 'e', 'v', 'nu', 'nc', 'na'),
  redis.call('HGETALL', KEYS[2]),
  redis.call('HGETALL', KEYS[3]),
  redis.call('HGETALL', KEYS[4]),
  nowMs(ARGV[1]),
}
