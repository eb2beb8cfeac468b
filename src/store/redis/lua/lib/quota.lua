--[[
  The `sessions` quota (issue 16): one sorted set per quota key (keys.ts `quota`), member = session
  id, score = when the entry is next checked against its session record (repair of an entry whose
  session ended without removing it: only on Cluster, where a node dying between two commands can
  leave one; see redis-session-quota.ts). Members are session ids, so adding and removing are
  idempotent (a reaper finishing twice, a re-assertion after data loss never count twice).
  quotaAdmit(setKey, sid, now, max, verifyAfterMs): adds the session unless the set already holds
  `max` others (max 0 = no limit); nil when added (or already there), else the refusal reply
  {-3, count, due session ids (at most 16, those whose check is due)}.
]]
local function quotaAdmit(setKey, sid, now, max, verifyAfterMs)
  if max > 0 and redis.call('ZSCORE', setKey, sid) == false then
    local n = redis.call('ZCARD', setKey)
    if n >= max then
      return { -3, n, redis.call('ZRANGEBYSCORE', setKey, '-inf', now, 'LIMIT', 0, 16) }
    end
  end
  redis.call('ZADD', setKey, 'NX', now + verifyAfterMs, sid)
  return nil
end
