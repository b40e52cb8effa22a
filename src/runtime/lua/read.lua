--[[
  read: fenced XREADGROUP. Only the current owner epoch may take entries from the group, so
  a stale owner (paused, zombie) can never consume entries the new owner must see.

  KEYS[1] checkpoint hash   KEYS[2] event stream
  ARGV[1] epoch   ARGV[2] group   ARGV[3] consumer   ARGV[4] count
  Result: the XREADGROUP reply for the one stream (or nil when nothing new),
  or error "FENCED ..." when the epoch is stale.
]]
local current = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
if current ~= tonumber(ARGV[1]) then
  return redis.error_reply('FENCED partition owned by epoch ' .. current)
end
return redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', ARGV[4], 'STREAMS', KEYS[2], '>')
