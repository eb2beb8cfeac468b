--[[
  scopeRemove: a session no longer carries a scope. Idempotent: an unknown session changes nothing
  (a reaper repeating the step after a crash). The user leaves the shard with its last session.
  KEYS[1] users zset   KEYS[2] sessions hash   KEYS[3] counts hash   KEYS[4] info hash
  ARGV[1] session id
  Returns {removed, left}: removed 1 when the session was there, left 1 when its user left
]]
local uid = redis.call('HGET', KEYS[2], ARGV[1])
if not uid then return { 0, 0 } end
redis.call('HDEL', KEYS[2], ARGV[1])
local n = redis.call('HINCRBY', KEYS[3], uid, -1)
if n > 0 then return { 1, 0 } end
redis.call('HDEL', KEYS[3], uid)
redis.call('HDEL', KEYS[4], uid)
redis.call('ZREM', KEYS[1], uid)
return { 1, 1 }
