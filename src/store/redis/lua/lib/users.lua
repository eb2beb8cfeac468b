--[[
  User-status helpers (included with `--@include users`).
  statusJson(userId, state, key): the status record as published (see codec.ts decodeStatus).
  sc(key): when the custom status or invisible flag last changed (ms; 0 = never).
  aggregate(key): online when a session is active, away when all are away, offline with none;
    a manual presence (field ov) wins while the user has a session.
]]
local function aggregate(key)
  -- The most present session, unless a manual presence (field ov: away or online) is set, which
  -- wins while the user has a session (presence-override.ts).
  local any, active, ov, fields = false, false, '', redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 2) == 's:' then
      if fields[i + 1] == 'active' then active = true end
      any = true
    elseif fields[i] == 'ov' then
      ov = fields[i + 1]
    end
  end
  if not any then return 'offline' end
  if ov == 'away' then return 'away' end
  if ov == 'online' or active then return 'online' end
  return 'away'
end
local function statusJson(userId, state, key)
  local f = redis.call('HMGET', key, 'ls', 'vls', 'cs', 'inv', 'ov')
  return cjson.encode({ userId = userId, state = state, lastSeenMs = tonumber(f[1]) or 0,
    visibleLastSeenMs = tonumber(f[2]) or 0, customStatus = f[3] or '', invisible = f[4] == '1',
    presenceOverride = f[5] or 'auto' })
end
local function sc(key)
  return tonumber(redis.call('HGET', key, 'sc')) or 0
end
