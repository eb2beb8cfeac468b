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
