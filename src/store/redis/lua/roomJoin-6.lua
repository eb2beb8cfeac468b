--[[
  roomJoin: add a connection to a room, or update it when its metadata or activity changed; bump
  the version, log and publish the event in the same step. A join of a present, unchanged
  connection is a no-op (no bump, no publish). Creates the room's state (new epoch) if missing and
  removes the room keys' expiry (a room with members never expires).
  KEYS[1] meta hash (e epoch, v version, nu users, nc connections, na anonymous)
  KEYS[2] members hash (connectionId → member JSON)   KEYS[3] counters hash ("u:<id>"/"a:<id>" → n)
  KEYS[4] log stream   KEYS[5] typing hash   KEYS[6] cursors hash
  ARGV[1] connectionId   ARGV[2] member JSON {s, k, u|a, md, mk, act, j}   ARGV[3] identity key
  ARGV[4] epoch to use if the room has none   ARGV[5] now ms ('0' = Redis TIME)
  ARGV[6] log max entries   ARGV[7] log max age ms   ARGV[8] channel   ARGV[9] PUBLISH|SPUBLISH
  ARGV[10] room name
  Returns {status, epoch, version, event message JSON ('' when unchanged), created}; status
  1 = joined, 2 = updated, 0 = unchanged (no event); created 1 when this call created the room's
  state (new epoch), else 0
]]
local now = nowMs(ARGV[5])
local epoch = redis.call('HGET', KEYS[1], 'e')
local created = 0
if not epoch then
  created = 1
  epoch = ARGV[4]
  redis.call('HSET', KEYS[1], 'e', epoch, 'v', 0, 'nu', 0, 'nc', 0, 'na', 0)
end
for i = 1, 6 do redis.call('PERSIST', KEYS[i]) end
local member = cjson.decode(ARGV[2])
local prevJson = redis.call('HGET', KEYS[2], ARGV[1])
local ev = { room = ARGV[10], epoch = epoch, timeMs = now }
local status
if prevJson then
  local prev = cjson.decode(prevJson)
  if prev.mk == member.mk and prev.act == member.act then
    return { 0, epoch, tonumber(redis.call('HGET', KEYS[1], 'v')), '', created }
  end
  member.j = prev.j
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(member))
  if member.k ~= 'u' then
    return { 0, epoch, tonumber(redis.call('HGET', KEYS[1], 'v')), '', created }
  end
  ev.kind = 'updated'
  ev.member = member
  status = 2
else
  member.j = now
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(member))
  local n = redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
  redis.call('HINCRBY', KEYS[1], 'nc', 1)
  if member.k == 'u' then
    if n == 1 then redis.call('HINCRBY', KEYS[1], 'nu', 1) end
    ev.kind = 'joined'
    ev.member = member
    ev.firstOfUser = (n == 1)
  else
    if n == 1 then redis.call('HINCRBY', KEYS[1], 'na', 1) end
    ev.kind = 'anonymous'
    ev.viewersDelta = (n == 1) and 1 or 0
    ev.connectionsDelta = 1
  end
  status = 1
end
ev.version = redis.call('HINCRBY', KEYS[1], 'v', 1)
ev.counts = counts(KEYS[1])
local msg = commit(KEYS[1], KEYS[4], ev, ARGV[6], ARGV[7], ARGV[9], ARGV[8])
return { status, epoch, ev.version, msg, created }
