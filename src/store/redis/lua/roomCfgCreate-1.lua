--[[
  roomCfgCreate: creates a managed room's record (rooms.proto) unless the room is managed and open
  (-1) or ended and still inside its tombstone time (-2); a tombstone past its time is replaced.
  KEYS[1] the room's record (string: JSON of core/room-lifecycle.ts ManagedRoom)
  ARGV[1] the new record JSON, its times filled by the caller from ARGV[2]   ARGV[2] now ms ('0' = Redis TIME)
  Returns {status, record JSON}: 1 created (the new record), -1 exists, -2 ended (the existing one)
]]
local now = nowMs(ARGV[2])
local cur = redis.call('GET', KEYS[1])
if cur then
  local r = cjson.decode(cur)
  if r.status == 'open' then return { -1, cur } end
  if now < tonumber(r.tombstoneUntilMs) then return { -2, cur } end
end
local r = cjson.decode(ARGV[1])
r.createdAtMs = now
r.lastActivityMs = now
local json = cjson.encode(r)
redis.call('SET', KEYS[1], json)
return { 1, json }
