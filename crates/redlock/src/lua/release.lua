-- tumbler-redlock release: delete KEYS[1] only while it still holds our token ARGV[1].
-- pcall, so a key of another type is "not ours" (0) rather than a script error.
local held = redis.pcall('GET', KEYS[1])
if held ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
