--[[
  User-status helpers (included with `--@include users`).
  statusJson(userId, state, key): the status record as published (see codec.ts decodeStatus).
  sc(key): when the custom status or invisible flag last changed (ms; 0 = never).
  aggregate(key): online when a session is active, away when all are away, offline with none.
]]
local function aggregate(key)
  local any, fields = false, redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 2) == 's:' then
      if fields[i + 1] == 'active' then return 'online' end
      any = true
    end
  end
  return any and 'away' or 'offline'
end
local function statusJson(userId, state, key)
  local f = redis.call('HMGET', key, 'ls', 'vls', 'cs', 'inv')
  return cjson.encode({ userId = userId, state = state, lastSeenMs = tonumber(f[1]) or 0,
    visibleLastSeenMs = tonumber(f[2]) or 0, customStatus = f[3] or '', invisible = f[4] == '1' })
end
local function sc(key)
  return tonumber(redis.call('HGET', key, 'sc')) or 0
end
