--[[
  sessionKick: claim one live session for an operator's kick, like sessionsClaimExpired claims an
  expired one: it leaves the expiry zset (heartbeats, refreshes and joins are refused from now on:
  fencing) and enters the reaping zset with a claim deadline, so the kick's remaining steps (leave
  its rooms with reason KICKED, end it: session-reaper.ts `finish`) are completed by any reaper if
  the kicking node dies midway. With a node id in ARGV[4], only a session still recorded for that
  node is claimed (PurgeNode must not kick a session that another node reclaimed meanwhile).
  KEYS[1] bucket expiry zset   KEYS[2] bucket sessions hash   KEYS[3] bucket reaping zset
  ARGV[1] session id   ARGV[2] now ms ('0' = Redis TIME)   ARGV[3] claim duration ms
  ARGV[4] node id the session must be recorded for ('' = any)
  Returns {status}; 1 = claimed, 0 = not found (unknown, expired, already claimed),
  -1 = recorded for another node (nothing changed)
]]
local now = nowMs(ARGV[2])
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
local json = redis.call('HGET', KEYS[2], ARGV[1])
if not score or score <= now or not json then return { 0 } end
if ARGV[4] ~= '' and cjson.decode(json).n ~= ARGV[4] then return { -1 } end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), ARGV[1])
return { 1 }
