--[[
  userSetStatus: set the custom status text and/or the invisible flag of a user and publish the
  new status when it changed. Going invisible freezes the last seen that others see. A change
  records its time (sc).
  KEYS[1] user status hash (see userSession)
  ARGV[1] userId   ARGV[2] '1' to set the custom status   ARGV[3] custom status
  ARGV[4] '' keep | '1' invisible | '0' visible   ARGV[5] now ms ('0' = Redis TIME)
  ARGV[6] channel   ARGV[7] PUBLISH|SPUBLISH   ARGV[8] manual presence: '' keep | auto | away | online
  Returns {changed, status JSON, now ms, sc, presence before, session ids and activities (flat)}:
  the caller updates what the user's connections show when the manual presence changed
]]
local now = nowMs(ARGV[5])
local fields = redis.call('HGETALL', KEYS[1])
local active, any, rec, sessions = false, false, {}, {}
for i = 1, #fields, 2 do
  local k = fields[i]
  if string.sub(k, 1, 2) == 's:' then
    if fields[i + 1] == 'active' then active = true end
    any = true
    sessions[#sessions + 1] = string.sub(k, 3)
    sessions[#sessions + 1] = fields[i + 1]
  else
    rec[k] = fields[i + 1]
  end
end
local ovBefore = rec.ov or 'auto'
local changed = false
if ARGV[8] ~= '' and ovBefore ~= ARGV[8] then
  if ARGV[8] == 'auto' then redis.call('HDEL', KEYS[1], 'ov') else redis.call('HSET', KEYS[1], 'ov', ARGV[8]) end
  rec.ov = ARGV[8]
  changed = true
end
local ov = rec.ov or 'auto'
local state = 'offline'
if any then
  if ov == 'away' then state = 'away' elseif ov == 'online' or active then state = 'online' else state = 'away' end
end
if ARGV[2] == '1' and (rec.cs or '') ~= ARGV[3] then
  redis.call('HSET', KEYS[1], 'cs', ARGV[3])
  rec.cs = ARGV[3]
  changed = true
end
if ARGV[4] ~= '' and (rec.inv or '0') ~= ARGV[4] then
  redis.call('HSET', KEYS[1], 'inv', ARGV[4])
  rec.inv = ARGV[4]
  if ARGV[4] == '1' then
    rec.vls = (state == 'offline') and (rec.ls or '0') or tostring(now)
    redis.call('HSET', KEYS[1], 'vls', rec.vls)
  end
  changed = true
end
if changed then redis.call('HSET', KEYS[1], 'sc', now) end
local out = cjson.encode({ userId = ARGV[1], state = state, lastSeenMs = tonumber(rec.ls) or 0,
  visibleLastSeenMs = tonumber(rec.vls) or 0, customStatus = rec.cs or '', invisible = rec.inv == '1',
  presenceOverride = ov })
if changed then redis.call(ARGV[7], ARGV[6], out) end
local reply = { changed and 1 or 0, out, now, tonumber(redis.call('HGET', KEYS[1], 'sc')) or 0, ovBefore }
for i = 1, #sessions do reply[#reply + 1] = sessions[i] end
return reply
