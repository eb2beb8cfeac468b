--[[
  roomReadLog: a room's position and its event log in one atomic read (resume from a position).
  A script rather than MULTI, so it works while Redis is over maxmemory (see roomRead).
  KEYS[1] meta hash   KEYS[2] log stream
  Returns {epoch or false, version or false, XRANGE entries}
]]
local m = redis.call('HMGET', KEYS[1], 'e', 'v')
return { m[1], m[2], redis.call('XRANGE', KEYS[2], '-', '+') }
