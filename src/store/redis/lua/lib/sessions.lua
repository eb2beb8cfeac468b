--[[
  Session helpers (included by session scripts with `--@include sessions`).
  liveOwned(expiryKey, sessionsKey, sid, owner, now): the session's JSON when it is live (expiry
  after now, record present) and its owner key is `owner`, else nil. Expired sessions are fenced:
  never live again, even before they are reaped.
]]
local function liveOwned(expiryKey, sessionsKey, sid, owner, now)
  local score = tonumber(redis.call('ZSCORE', expiryKey, sid))
  if not score or score <= now then return nil end
  local json = redis.call('HGET', sessionsKey, sid)
  if not json or cjson.decode(json).o ~= owner then return nil end
  return json
end
--[[
  Membership fencing: every membership call on a session (join, navigate, leave) takes the next
  number of the session's op sequence (opSeq, a per-bucket hash sid → counter). The session's room
  listing ("<seq>\t<metadata JSON>") and the room's member entry carry the sequence of the call
  that wrote them, so a slower, older call never undoes a newer one when two calls on one session
  interleave their steps (session script, room script, session script).
  listing(seq, md) builds a listing; listingSeq(value) reads its sequence (0 for an older format).
]]
local function opSeq(seqKey, sid)
  return redis.call('HINCRBY', seqKey, sid, 1)
end
local function listing(seq, md)
  return seq .. '\t' .. md
end
local function listingSeq(value)
  return tonumber(string.match(value, '^(%d+)\t')) or 0
end
--[[
  Server-side away (core/session-activity.ts, core/away-policy.ts). A session record carries its
  last activity `la` (ms), the threshold of its scopes or the default `ab` (set at creation), the
  `away_after_ms` of the managed rooms it is in that have one `ra` (room → ms) and its threshold
  `aw` = combineAway(s): the smallest of ab and the ra values, 0 meaning never (ab of a session of an
  older version: its aw). The bucket's away index holds the active sessions with a threshold, scored
  by when they become away (la + aw): awayIndex puts the session there or takes it out.
]]
local function combineAway(s)
  local base = tonumber(s.ab or s.aw) or 0
  local min = base > 0 and base or nil
  if type(s.ra) == 'table' then
    for _, t in pairs(s.ra) do
      t = tonumber(t) or 0
      if t > 0 and (min == nil or t < min) then min = t end
    end
  end
  return min or 0
end
local function awayIndex(awayKey, sid, s)
  local aw = tonumber(s.aw) or 0
  if aw > 0 and s.act == 'active' then
    redis.call('ZADD', awayKey, (tonumber(s.la) or 0) + aw, sid)
  else
    redis.call('ZREM', awayKey, sid)
  end
end
