--[[
  read: fenced XREADGROUP. Only the current owner epoch may take entries from the group, so
  a stale owner (paused, zombie) can never consume entries the new owner must see.

  A read whose reply was lost (connection reset after Redis executed it) leaves its entries
  pending for this consumer after the last id the owner saw. So the script first returns this
  consumer's own pending entries after ARGV[5] (history mode) and reads new ones ('>') only
  when there are none: a lost reply is delivered again, never skipped.

  KEYS[1] checkpoint hash   KEYS[2] event stream
  ARGV[1] epoch   ARGV[2] group   ARGV[3] consumer   ARGV[4] count
  ARGV[5] last entry id this owner has seen
  Result: the XREADGROUP reply for the one stream (nil or empty when nothing new),
  or error "FENCED ..." when the epoch is stale.
]]
local current = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
if current ~= tonumber(ARGV[1]) then
  return redis.error_reply('FENCED partition owned by epoch ' .. current)
end
local pending = redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', ARGV[4], 'STREAMS', KEYS[2], ARGV[5])
if pending and pending[1] and #pending[1][2] > 0 then
  return pending
end
return redis.call('XREADGROUP', 'GROUP', ARGV[2], ARGV[3], 'COUNT', ARGV[4], 'STREAMS', KEYS[2], '>')
