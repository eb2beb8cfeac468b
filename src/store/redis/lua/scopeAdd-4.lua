--[[
  scopeAdd: a session carries a scope (one shard of it: the shard of the session's user). Idempotent:
  a session already recorded changes nothing. The user enters the shard's ordered set on its first
  session, and its position (last activity) is raised, never lowered (ZADD GT also adds).
  KEYS[1] users zset (userId → last activity ms)   KEYS[2] sessions hash (sessionId → userId)
  KEYS[3] counts hash (userId → sessions carrying the scope)   KEYS[4] info hash (userId → JSON)
  ARGV[1] session id   ARGV[2] user id   ARGV[3] last activity ms   ARGV[4] user info JSON (latest wins)
  Returns {added, entered}: added 1 when the session was new, entered 1 when its user was
]]
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return { 0, 0 } end
redis.call('HSET', KEYS[4], ARGV[2], ARGV[4])
local n = redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
redis.call('ZADD', KEYS[1], 'GT', ARGV[3], ARGV[2])
return { 1, n == 1 and 1 or 0 }
