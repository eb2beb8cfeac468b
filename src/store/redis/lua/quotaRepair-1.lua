--[[
  quotaRepair: applies the node's checks of due quota entries (lib/quota): an entry whose session
  record is gone leaves the set; a live one is next checked ARGV[2] ms from now.
  KEYS[1] the quota key's session set
  ARGV[1] now ms ('0' = Redis TIME)   ARGV[2] ms until the next check   ARGV[3..] pairs: session
  id, '1' = its record exists / '0' = gone
  Returns {entries removed}
]]
local now = nowMs(ARGV[1])
local removed = 0
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '1' then
    redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[i])
  else
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return { removed }
