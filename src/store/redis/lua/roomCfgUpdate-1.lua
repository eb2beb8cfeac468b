--[[
  roomCfgUpdate: applies the given fields to a managed room's record. Not managed (or a tombstone
  past its time): -1; ended: -2 (the record). Metadata, when given, replaces the old one whole.
  KEYS[1] the room's record
  ARGV[1] patch JSON (any of maxParticipants, idleTimeoutMs (0 = ARGV[2]), awayAfterMs, metadata,
  ownerUserId)   ARGV[2] default idle timeout ms   ARGV[3] now ms ('0' = Redis TIME)
  Returns {status, record JSON}: 1 updated, -1 not managed, -2 ended
]]
local now = nowMs(ARGV[3])
local cur = redis.call('GET', KEYS[1])
if not cur then return { -1, '' } end
local r = cjson.decode(cur)
if r.status == 'ended' then
  if now < tonumber(r.tombstoneUntilMs) then return { -2, cur } end
  return { -1, '' }
end
local p = cjson.decode(ARGV[1])
if p.maxParticipants ~= nil then r.maxParticipants = p.maxParticipants end
if p.idleTimeoutMs ~= nil then r.idleTimeoutMs = (p.idleTimeoutMs == 0) and tonumber(ARGV[2]) or p.idleTimeoutMs end
if p.awayAfterMs ~= nil then r.awayAfterMs = p.awayAfterMs end
if p.metadata ~= nil then r.metadata = p.metadata end
if p.ownerUserId ~= nil then r.ownerUserId = p.ownerUserId end
local json = cjson.encode(r)
redis.call('SET', KEYS[1], json)
return { 1, json }
