--[[
  roomJoin: add a connection to a room, or update it when its metadata or activity changed; bump
  the version, log and publish the event in the same step. A join of a present, unchanged
  connection is a no-op (no bump, no publish). Creates the room's state (new epoch) if missing and
  removes the room keys' expiry (a room with members never expires).
  Fencing of interleaved calls on one session (see lib/sessions): the member entry carries the
  number of the session call that wrote it (q). A join is superseded (status 3, nothing changes)
  when a later call of the session already left the room (a tombstone with a number at least as
  high), when its session lease ended before it arrived (ARGV[12]: the session expiry its session
  step set; a node that stalled longer may find the session reaped), or when a later call already
  wrote the entry. ARGV[13] '1' (re-assertion after data loss) skips these checks.
  KEYS[1] meta hash (e epoch, v version, nu users, nc connections, na anonymous)
  KEYS[2] members hash (connectionId → member JSON)   KEYS[3] counters hash ("u:<id>"/"a:<id>" → n)
  KEYS[4] log stream   KEYS[5] typing hash   KEYS[6] cursors hash
  KEYS[7] tombstones hash (connectionId → number of the call that left)   KEYS[8] tombstones expiry zset
  ARGV[1] connectionId   ARGV[2] member JSON {s, k, u|a, md, mk, act, j}   ARGV[3] identity key
  ARGV[4] epoch to use if the room has none   ARGV[5] now ms ('0' = Redis TIME)
  ARGV[6] log max entries   ARGV[7] log max age ms   ARGV[8] channel   ARGV[9] PUBLISH|SPUBLISH
  ARGV[10] room name   ARGV[11] the session call's number   ARGV[12] its session expiry ms (0 = none)
  ARGV[13] '1' = forced (re-assertion)   ARGV[14] '1' = answer with the room's view (Join, Navigate)
  ARGV[15] large-room threshold (the view omits members above it)
  Returns {status, epoch, version, event message JSON ('' when unchanged), created, room away} (with
  ARGV[14] then the view's meta, members, typing, cursors and the script's time, which judges typing
  ends and cursor times: a node's own clock may be off), then 1 when the room has a managed-room
  record (KEYS[9]) else 0 (the service looks the record up only then); status
  1 = joined, 2 = updated, 0 = unchanged (no event); created 1 when this call created the room's
  state (new epoch), else 0; -2 = refused, the room was ended and is inside its tombstone time
  (nothing changed; the record JSON at 4); -3 = refused, the managed room is full (the limit at 4)
  KEYS[9] the managed room's record (rooms.proto; absent for implicit rooms): admission is checked
  here, in the same step as the join, so concurrent joins never exceed max_participants; "room away"
  is its away_after_ms while it is open (0 otherwise), which the session's threshold then takes in
  The member's `la` (its session's last activity) is kept when higher than the one given (a stamp
  may have moved it since the session step); a new member without one gets now.
  KEYS[10] the user's status hash, read for the manual presence `ov` when ARGV[16] is 'read'
  (standalone Redis: no round trip before the join), else a key of the room's slot, not read
  ARGV[16] the user's manual presence (SetStatus): 'auto' | 'away' | 'online', or 'read' (KEYS[10]).
  A user's connection shows its session's activity through it (core/presence-override shownActivity:
  away → away, online → active), from its first event on: a manually away user never shows active.
]]
local now = nowMs(ARGV[5])
local seq = tonumber(ARGV[11])
local roomAway = 0
local cfgJson = false
local function reply(status, epoch, version, msg, created)
  local managed = cfgJson and 1 or 0
  if ARGV[14] ~= '1' then return { status, epoch, version, msg, created, roomAway, managed } end
  local meta = redis.call('HMGET', KEYS[1], 'e', 'v', 'nu', 'nc', 'na')
  local members = {}
  if (tonumber(meta[4]) or 0) <= tonumber(ARGV[15]) then members = redis.call('HGETALL', KEYS[2]) end
  return { status, epoch, version, msg, created, roomAway, meta, members, redis.call('HGETALL', KEYS[5]), redis.call('HGETALL', KEYS[6]), now, managed }
end
for _, c in ipairs(redis.call('ZRANGEBYSCORE', KEYS[8], '-inf', now, 'LIMIT', 0, 20)) do
  redis.call('ZREM', KEYS[8], c)
  redis.call('HDEL', KEYS[7], c)
end
cfgJson = redis.call('GET', KEYS[9])
if cfgJson then
  local cfg = cjson.decode(cfgJson)
  if cfg.status == 'ended' then
    if now < tonumber(cfg.tombstoneUntilMs) then return { -2, '', 0, '', cfgJson } end
  else
    roomAway = tonumber(cfg.awayAfterMs) or 0
  end
  if cfg.status ~= 'ended' and tonumber(cfg.maxParticipants) > 0 and not redis.call('HGET', KEYS[2], ARGV[1]) then
    local already = tonumber(redis.call('HGET', KEYS[3], ARGV[3])) or 0
    if already == 0 then
      local c = redis.call('HMGET', KEYS[1], 'nu', 'na')
      if (tonumber(c[1]) or 0) + (tonumber(c[2]) or 0) >= tonumber(cfg.maxParticipants) then
        return { -3, '', 0, '', tostring(cfg.maxParticipants) }
      end
    end
  end
end
if ARGV[13] ~= '1' then
  local validUntil = tonumber(ARGV[12])
  local gone = tonumber(redis.call('HGET', KEYS[7], ARGV[1]))
  if (validUntil > 0 and now >= validUntil) or (gone and gone >= seq) then return reply(3, '', 0, '', 0) end
end
local epoch = redis.call('HGET', KEYS[1], 'e')
local created = 0
if not epoch then
  created = 1
  epoch = ARGV[4]
  redis.call('HSET', KEYS[1], 'e', epoch, 'v', 0, 'nu', 0, 'nc', 0, 'na', 0)
end
for i = 1, 6 do redis.call('PERSIST', KEYS[i]) end -- tombstones keep their own expiry
local member = cjson.decode(ARGV[2])
member.q = seq
if member.k == 'u' then
  local ov = ARGV[16]
  if ov == 'read' then ov = redis.call('HGET', KEYS[10], 'ov') end
  if ov == 'away' then member.act = 'away' elseif ov == 'online' then member.act = 'active' end
end
local prevJson = redis.call('HGET', KEYS[2], ARGV[1])
local ev = { room = ARGV[10], epoch = epoch, timeMs = now }
local status
if prevJson then
  local prev = cjson.decode(prevJson)
  if ARGV[13] ~= '1' and (tonumber(prev.q) or 0) > seq then
    return reply(0, epoch, tonumber(redis.call('HGET', KEYS[1], 'v')), '', created)
  end
  if (tonumber(prev.q) or 0) < seq then
    prev.q = seq
    redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(prev))
  end
  if prev.mk == member.mk and prev.act == member.act then
    return reply(0, epoch, tonumber(redis.call('HGET', KEYS[1], 'v')), '', created)
  end
  member.j = prev.j
  if (tonumber(prev.la) or 0) > (tonumber(member.la) or 0) then member.la = prev.la end
  redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(member))
  if member.k ~= 'u' then
    return reply(0, epoch, tonumber(redis.call('HGET', KEYS[1], 'v')), '', created)
  end
  ev.kind = 'updated'
  ev.member = member
  status = 2
else
  redis.call('HDEL', KEYS[7], ARGV[1])
  redis.call('ZREM', KEYS[8], ARGV[1])
  member.j = now
  if not member.la then member.la = now end
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
return reply(status, epoch, ev.version, msg, created)
