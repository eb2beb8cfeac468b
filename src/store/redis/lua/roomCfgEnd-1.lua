--[[
  roomCfgEnd: marks a managed room ended (idempotent: an ended room keeps its first end) and lets its
  record expire with its tombstone. Not managed: -1.
  KEYS[1] the room's record
  ARGV[1] ended by (user id, '' for the idle reaper)   ARGV[2] reason   ARGV[3] tombstone ms
  ARGV[4] now ms ('0' = Redis TIME)
  Returns {status, record JSON}: 1 ended now, 0 already ended, -1 not managed
]]
local now = nowMs(ARGV[4])
local cur = redis.call('GET', KEYS[1])
if not cur then return { -1, '' } end
local r = cjson.decode(cur)
if r.status == 'ended' then
  if now < tonumber(r.tombstoneUntilMs) then return { 0, cur } end
  return { -1, '' }
end
r.status = 'ended'
r.endedAtMs = now
r.tombstoneUntilMs = now + tonumber(ARGV[3])
r.endedBy = ARGV[1]
r.endReason = ARGV[2]
local json = cjson.encode(r)
redis.call('SET', KEYS[1], json, 'PX', math.max(1, tonumber(ARGV[3])))
return { 1, json }
