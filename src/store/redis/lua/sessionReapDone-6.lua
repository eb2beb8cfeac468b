--[[
  sessionReapDone: last step of a reap: delete the claimed session's keys and uncount it from its
  quota key (`q`, else its owner key).
  KEYS[1] bucket reaping zset   KEYS[2] bucket sessions hash   KEYS[3] the session's rooms hash
  KEYS[4] bucket owners hash (quota key → live sessions)   KEYS[5] bucket op sequences hash
  KEYS[6] standalone: the session's quota set (lib/quota); Cluster: any key of this slot, unused
  ARGV[1] session id   ARGV[2] '1' = remove the session from KEYS[6] here (standalone), '' = the
  caller does (Cluster)
  Returns {status}; 1 = deleted, 0 = not claimed (another node finished it)
]]
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return { 0 } end
local json = redis.call('HGET', KEYS[2], ARGV[1])
if json then
  local s = cjson.decode(json)
  local quota = s.q or s.o
  if redis.call('HINCRBY', KEYS[4], quota, -1) <= 0 then redis.call('HDEL', KEYS[4], quota) end
  redis.call('HDEL', KEYS[2], ARGV[1])
end
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[5], ARGV[1])
if ARGV[2] == '1' then redis.call('ZREM', KEYS[6], ARGV[1]) end
return { 1 }
