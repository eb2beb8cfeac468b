--[[
  sessionsClaimExpired: claim up to N expired sessions of a bucket for reaping. A claimed session
  leaves the expiry zset (so heartbeats and refreshes are refused from now on: fencing) and enters
  the reaping zset with a claim deadline; claims older than their deadline (a node died mid-reap)
  are claimed again. Every step of a reap is idempotent, so a re-claim is safe. Also forgets up to
  N request de-duplication records of the bucket whose TTL has passed.
  KEYS[1] bucket expiry zset   KEYS[2] bucket reaping zset
  KEYS[3] bucket requests hash   KEYS[4] bucket requests expiry zset
  ARGV[1] now ms ('0' = Redis TIME)   ARGV[2] claim duration ms   ARGV[3] max sessions
  ARGV[4] deadline ms: past it the call is stale (its node gave up on it: it waited in a frozen
  Redis, or ioredis sent it again after a reconnect) and claims nothing (outage-guard.ts)
  Returns {expiredNow, sessionId...}: how many had just expired (missed heartbeats), then every
  claimed id (just expired first, then stale claims)
]]
local now = nowMs(ARGV[1])
if now > tonumber(ARGV[4]) then return { 0 } end
local limit = tonumber(ARGV[3])
local deadline = now + tonumber(ARGV[2])
local out = { 0 }
-- The claim is written before the session leaves the expiry zset: at maxmemory (noeviction) Redis
-- refuses a script whose first write needs memory, so nothing is claimed while refreshes are
-- refused too (a ZREM first would let the script go on, and reap sessions nobody could refresh).
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZADD', KEYS[2], deadline, sid)
  redis.call('ZREM', KEYS[1], sid)
  out[#out + 1] = sid
end
out[1] = #out - 1
if #out - 1 < limit then
  for _, sid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit - (#out - 1))) do
    redis.call('ZADD', KEYS[2], deadline, sid)
    out[#out + 1] = sid
  end
end
for _, field in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZREM', KEYS[4], field)
  redis.call('HDEL', KEYS[3], field)
end
return out
