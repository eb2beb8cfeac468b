--[[
  roomCursors: store the newest cursor of each listed connection (last value wins) and publish them
  as one batch. A node calls it once per room per cursor flush (default every 50 ms) with every
  cursor it coalesced meanwhile. Entries whose connection is not in the room (or belongs to another
  session) are skipped. Never versioned, never logged.
  KEYS[1] members   KEYS[2] cursors hash (connectionId → cursor JSON)
  ARGV[1] now ms ('0' = Redis TIME)   ARGV[2] channel   ARGV[3] PUBLISH|SPUBLISH   ARGV[4] room
  ARGV[5..] groups of 4: connectionId, owning session id, userId, position JSON
  Returns {applied}
]]
local now = nowMs(ARGV[1])
local cursors = {}
for i = 5, #ARGV, 4 do
  local mJson = redis.call('HGET', KEYS[1], ARGV[i])
  if mJson and cjson.decode(mJson).s == ARGV[i + 1] then
    local c = { connectionId = ARGV[i], userId = ARGV[i + 2], position = cjson.decode(ARGV[i + 3]), updatedAtMs = now }
    redis.call('HSET', KEYS[2], ARGV[i], cjson.encode(c))
    cursors[#cursors + 1] = c
  end
end
if #cursors == 0 then return { 0 } end
local batch = { room = ARGV[4], cursors = cursors, removedConnectionIds = {} }
redis.call(ARGV[3], ARGV[2], cjson.encode({ type = 'cursors', batch = batch }))
return { #cursors }
