--[[
  userRestore: after Redis lost data, put back a user's custom status and invisible flag as a node
  last knew them, unless the record has a newer change (another node restored or the user set
  them since). Sessions are re-asserted separately (userSession). Publishes the status on change.
  KEYS[1] user status hash (see userSession)
  ARGV[1] userId   ARGV[2] custom status   ARGV[3] '1' invisible | '0' visible
  ARGV[4] when they last changed (ms)   ARGV[5] last seen shown while invisible (ms)
  ARGV[6] now ms ('0' = Redis TIME)   ARGV[7] channel   ARGV[8] PUBLISH|SPUBLISH
  Returns {changed, status JSON, now ms}; changed 0 when the record's change is as new or newer
]]
--@include users
local now = nowMs(ARGV[6])
if sc(KEYS[1]) >= tonumber(ARGV[4]) then return { 0, '', now } end
redis.call('HSET', KEYS[1], 'cs', ARGV[2], 'inv', ARGV[3], 'sc', ARGV[4])
if ARGV[3] == '1' then redis.call('HSET', KEYS[1], 'vls', ARGV[5]) end
local out = statusJson(ARGV[1], aggregate(KEYS[1]), KEYS[1])
redis.call(ARGV[8], ARGV[7], out)
return { 1, out, now }
