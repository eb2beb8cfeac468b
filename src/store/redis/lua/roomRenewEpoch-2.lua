--[[
  roomRenewEpoch: give a room a new epoch when its version went backwards inside its epoch (a
  partial data loss kept the epoch but lost recent commits: an RDB restore, an asynchronous replica
  promoted). Versions must never repeat inside one epoch (I4): with a new epoch every watcher and
  every resume position resyncs. Does nothing when the room is no longer at that epoch or has
  caught up (another node renewed it first, or the caller was wrong). The log of the old epoch is
  dropped (its entries cannot be replayed in the new one).
  KEYS[1] meta   KEYS[2] log
  ARGV[1] the epoch seen   ARGV[2] the highest version seen in it   ARGV[3] the new epoch
  Returns {renewed, epoch, version}; renewed 1 = new epoch set, 0 = nothing to do
]]
local e = redis.call('HGET', KEYS[1], 'e')
local v = tonumber(redis.call('HGET', KEYS[1], 'v')) or 0
if e ~= ARGV[1] or v >= tonumber(ARGV[2]) then return { 0, e or '', v } end
redis.call('HSET', KEYS[1], 'e', ARGV[3])
redis.call('DEL', KEYS[2])
return { 1, ARGV[3], v }
