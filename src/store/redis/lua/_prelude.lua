--[[
  Prelude: prepended by scripts.ts to every script of this folder (Redis scripts cannot import).
  nowMs(arg): the time in ms; from ARGV when the store runs on an injected clock (tests), otherwise
  from the Redis server (TIME), so every node agrees on time.
  redisMs(): always the Redis server time (stream ids use it).
]]
local function redisMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function nowMs(arg)
  if arg ~= nil and arg ~= '' and arg ~= '0' then return tonumber(arg) end
  return redisMs()
end
local function counts(metaKey)
  local c = redis.call('HMGET', metaKey, 'nu', 'nc', 'na')
  return { users = tonumber(c[1]) or 0, connections = tonumber(c[2]) or 0, anonymous = tonumber(c[3]) or 0 }
end
-- Appends a committed event to the room log (capped by count and age) and publishes it.
local function commit(metaKey, logKey, ev, logMax, logMaxAgeMs, pubCmd, channel)
  local msg = cjson.encode({ type = 'event', event = ev })
  redis.call('XADD', logKey, 'MAXLEN', '~', logMax, '*', 'v', ev.version, 'e', msg)
  redis.call('XTRIM', logKey, 'MINID', '~', redisMs() - tonumber(logMaxAgeMs))
  redis.call(pubCmd, channel, msg)
  return msg
end
