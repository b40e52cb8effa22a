--[[
  acquire: take ownership of a partition for a new owner epoch (fencing).

  KEYS[1] checkpoint hash   KEYS[2] event stream
  ARGV[1] epoch (integer, strictly greater for every new owner)
  ARGV[2] consumer group name

  Effects: creates the consumer group (and stream) if missing; refuses when a newer epoch
  already owns the partition; stores the epoch; moves the group's last-delivered id back to
  the checkpoint so every entry after it is delivered again to the new owner.
  Result: { offset, flush_seq, intent_from, intent_to, dedup_min } (empty strings when absent),
  or error "FENCED ..." when a newer owner holds the partition.
]]
local epoch = tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0')
if current > epoch then
  return redis.error_reply('FENCED partition owned by epoch ' .. current)
end
redis.call('HSET', KEYS[1], 'epoch', epoch)
local offset = redis.call('HGET', KEYS[1], 'offset') or '0-0'
local ok = redis.pcall('XGROUP', 'CREATE', KEYS[2], ARGV[2], offset, 'MKSTREAM')
if type(ok) == 'table' and ok.err and not string.find(ok.err, 'BUSYGROUP') then
  return ok
end
redis.call('XGROUP', 'SETID', KEYS[2], ARGV[2], offset)
return {
  offset,
  redis.call('HGET', KEYS[1], 'flush_seq') or '0',
  redis.call('HGET', KEYS[1], 'intent_from') or '',
  redis.call('HGET', KEYS[1], 'intent_to') or '',
  redis.call('HGET', KEYS[1], 'dedup_min') or '',
}
