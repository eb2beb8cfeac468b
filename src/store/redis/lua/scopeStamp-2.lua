--[[
  scopeStamp: raises a user's position (last activity) in a scope shard, only while the user is in
  it (a stamp racing the user's leave must not re-add it), and never lowers it.
  KEYS[1] users zset   KEYS[2] counts hash
  ARGV[1] user id   ARGV[2] last activity ms
  Returns 1 when the user is in the shard, 0 otherwise
]]
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
return 1
