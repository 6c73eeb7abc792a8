-- wrk script of `./dev bench http`: every connection is one phone enrolling users one after another.
-- Step 1 starts a session (its answer holds the sessionId), steps 2..11 continue it, then the next
-- user starts. wrk must run one connection per thread (-t N -c N): request() and response() are
-- per thread, so this state is per connection only then.
--
-- The last step of an enrollment asks the server to close the connection, and wrk opens a new one
-- for the next person, as a new phone would. With connections kept for the whole run, the kernel's
-- first choice of worker for each would hold for good (seen: all 4 clients on one of 2 workers,
-- p99 363 ms); reconnecting lets the server's workers share the clients as they would share phones.
--
-- Arguments after `--`: the directory of the bodies (<person>-<step>.json, each the JSON object without
-- its opening brace, username and sessionId), the number of persons and of steps, a tag that keeps
-- the usernames of this run apart from earlier runs'.

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("number", counter)
   table.insert(threads, thread)
end

local tails, persons, steps, tag
local person, step, enrolled = 0, 0, 0
local session = nil
local username = nil
-- Globals, not locals: done() reads them from every thread with thread:get().
refused = 0 -- answers other than 200
first_refusal = ""
local headers = { ["Content-Type"] = "application/json", ["User-Agent"] = "bench-http (wrk)" }
local last_headers = { ["Content-Type"] = "application/json", ["User-Agent"] = "bench-http (wrk)",
                       ["Connection"] = "close" }

function init(args)
   local dir = args[1]
   persons, steps, tag = tonumber(args[2]), tonumber(args[3]), args[4]
   tails = {}
   for p = 0, persons - 1 do
      tails[p] = {}
      for s = 1, steps do
         local f = assert(io.open(string.format("%s/%d-%d.json", dir, p, s), "rb"))
         tails[p][s] = f:read("*a")
         f:close()
      end
   end
   person = (number - 1) % persons
   -- This connection's phone has its own address (as bench_client in save_step.py): rate limits are
   -- kept per address, and the in-process side gives each client number the same one.
   local address = string.format("198.18.%d.%d", math.floor((number - 1) / 250), (number - 1) % 250 + 1)
   headers["X-Forwarded-For"] = address
   last_headers["X-Forwarded-For"] = address
end

function request()
   if step == 0 then
      step, session = 1, nil
      enrolled = enrolled + 1
      username = string.format("%st%dn%d", tag, number, enrolled)
   end
   local head = '{"username":"' .. username .. '",'
   if session then
      head = head .. '"sessionId":"' .. session .. '",'
   end
   local h = step == steps and last_headers or headers
   return wrk.format("POST", "/api/save-drawing", h, head .. tails[person][step])
end

-- After a refusal with Retry-After (503 busy, 429), wait as a phone does before the next request (wrk
-- does not count the wait in the latency); hammering back at once would measure a retry storm instead.
local wait_ms = 0

function delay()
   local ms = wait_ms
   wait_ms = 0
   return ms
end

function response(status, headers, body)
   if status ~= 200 then
      local retry_after = tonumber(headers["Retry-After"] or headers["retry-after"] or "")
      if retry_after then
         wait_ms = retry_after * 1000
      end
      refused = refused + 1
      if first_refusal == "" then
         first_refusal = status .. " " .. string.sub(body, 1, 300)
      end
      step = 0 -- start over with a new user
      return
   end
   if step == 1 then
      session = string.match(body, '"sessionId":"([^"]+)"')
   end
   step = step + 1
   if step > steps then
      step = 0
      person = (person + 1) % persons
   end
end

function done(summary, latency, _)
   local refusals, why = 0, ""
   for _, thread in ipairs(threads) do
      refusals = refusals + thread:get("refused")
      if why == "" then
         why = thread:get("first_refusal")
      end
   end
   why = string.gsub(why, '[%c"\\]', " ") -- printed inside a JSON string
   local percentiles = {}
   for _, p in ipairs({ 50, 90, 99, 99.9 }) do
      table.insert(percentiles, string.format('"%s":%.0f', p, latency:percentile(p)))
   end
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"refused":%d,"first_refusal":"%s",' ..
      '"socket_errors":%d,"timeouts":%d,"latency_us":{%s},"max_us":%.0f}\n',
      summary.requests, summary.duration, refusals, why,
      summary.errors.connect + summary.errors.read + summary.errors.write, summary.errors.timeout,
      table.concat(percentiles, ","), latency.max))
end
