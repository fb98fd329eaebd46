-- tumbler-redlock extend: set KEYS[1]'s TTL to ARGV[2] ms only while it still holds our token ARGV[1].
-- pcall, so a key of another type is "not ours" (0) rather than a script error.
local held = redis.pcall('GET', KEYS[1])
if held ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
