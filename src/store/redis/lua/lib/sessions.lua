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
