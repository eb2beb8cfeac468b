--[[
  sessionReapDone: last step of a reap: delete the claimed session's keys.
  KEYS[1] bucket reaping zset   KEYS[2] bucket sessions hash   KEYS[3] the session's rooms hash
  ARGV[1] session id
  Returns {status}; 1 = deleted, 0 = not claimed (another node finished it)
]]
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return { 0 } end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return { 1 }
