--[[
  roomTouch: make sure a watched room has state (an epoch) and read its position. An empty room's
  keys get the retention as expiry again, so a room lives while it has members or watchers, then
  the retention (default 2 minutes) more. Used when a node starts watching a room and by the
  periodic position check.
  KEYS[1] meta   KEYS[2] members   KEYS[3] counters   KEYS[4] log   KEYS[5] typing   KEYS[6] cursors
  ARGV[1] epoch to use if the room has none   ARGV[2] retention ms
  Returns {epoch, version}
]]
local e = redis.call('HGET', KEYS[1], 'e')
if not e then
  e = ARGV[1]
  redis.call('HSET', KEYS[1], 'e', e, 'v', 0, 'nu', 0, 'nc', 0, 'na', 0)
end
if (tonumber(redis.call('HGET', KEYS[1], 'nc')) or 0) <= 0 then
  for i = 1, 6 do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
return { e, tonumber(redis.call('HGET', KEYS[1], 'v')) }
