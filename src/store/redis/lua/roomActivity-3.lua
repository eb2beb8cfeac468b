--[[
  roomActivity: change the activity of a connection (Heartbeat with a new activity). One `updated`
  event for listed users; anonymous members change silently (they are never listed).
  KEYS[1] meta   KEYS[2] members   KEYS[3] log
  ARGV[1] connectionId   ARGV[2] owning session id   ARGV[3] activity (active|away)
  ARGV[4] now ms ('0' = Redis TIME)   ARGV[5] log max entries   ARGV[6] log max age ms
  ARGV[7] channel   ARGV[8] PUBLISH|SPUBLISH   ARGV[9] room
  Returns {status, event message JSON}; 1 = updated (event), 0 = unchanged or not there (no event, '')
]]
local now = nowMs(ARGV[4])
local prevJson = redis.call('HGET', KEYS[2], ARGV[1])
if not prevJson then return { 0, '' } end
local m = cjson.decode(prevJson)
if m.s ~= ARGV[2] or m.act == ARGV[3] then return { 0, '' } end
m.act = ARGV[3]
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(m))
if m.k ~= 'u' then return { 0, '' } end
local ev = { room = ARGV[9], epoch = redis.call('HGET', KEYS[1], 'e'), timeMs = now, kind = 'updated', member = m }
ev.version = redis.call('HINCRBY', KEYS[1], 'v', 1)
ev.counts = counts(KEYS[1])
local msg = commit(KEYS[1], KEYS[3], ev, ARGV[5], ARGV[6], ARGV[8], ARGV[7])
return { 1, msg }
