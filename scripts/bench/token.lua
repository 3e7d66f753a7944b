-- wrk script: redeems pre-issued authorization codes at POST /token, one code per request.
--
--   wrk -t2 -c32 -d20s --latency -s scripts/bench/token.lua http://127.0.0.1:PORT/token -- BODIES [THREADS]
--
-- BODIES is the file bench_server wrote (crates/server/examples/bench_server.rs): one
-- urlencoded /token body per line. THREADS must equal wrk's -t (default 2); thread k (1-based)
-- takes lines k, k+THREADS, k+2*THREADS, … so no code is sent twice. A thread that runs out of
-- codes sends an empty body (a 400) and counts it as "exhausted". done() prints the number of
-- non-200 responses: a run with any is invalid.

local counter = 0
local threads = {}

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
   table.insert(threads, thread)
end

function init(args)
   local file = args[1] or os.getenv("BODIES")
   local nthreads = tonumber(args[2] or os.getenv("THREADS") or "2")
   if not file then
      error("token.lua: pass the bodies file after --")
   end
   seen_threads = nthreads
   bodies = {}
   local i = 0
   for line in io.lines(file) do
      if i % nthreads == id - 1 and #line > 0 then
         bodies[#bodies + 1] = line
      end
      i = i + 1
   end
   next_body = 1
   non200 = 0
   exhausted = 0
   headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }
end

function request()
   local body = bodies[next_body]
   if body == nil then
      exhausted = exhausted + 1
      body = ""
   else
      bodies[next_body] = nil
      next_body = next_body + 1
   end
   return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
      -- Keep the first error body for the report.
      if first_error == nil then
         first_error = tostring(status) .. " " .. string.sub(body or "", 1, 300)
      end
   end
end

function done(summary, latency, requests)
   local total_non200 = 0
   local total_exhausted = 0
   for _, thread in ipairs(threads) do
      total_non200 = total_non200 + (thread:get("non200") or 0)
      total_exhausted = total_exhausted + (thread:get("exhausted") or 0)
      local e = thread:get("first_error")
      if e ~= nil then
         io.write(string.format("first error (thread %d): %s\n", thread:get("id"), e))
      end
      if thread:get("seen_threads") ~= #threads then
         io.write(string.format("WARNING: token.lua was told %s threads but wrk ran %d: codes may be reused\n",
            tostring(thread:get("seen_threads")), #threads))
      end
   end
   local e = summary.errors
   io.write(string.format("requests: %d in %.2f s = %.1f/s\n", summary.requests,
      summary.duration / 1e6, summary.requests / (summary.duration / 1e6)))
   io.write(string.format("latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000))
   io.write(string.format("non-200 responses: %d (of which codes exhausted: %d); socket errors: connect %d, read %d, write %d, timeout %d\n",
      total_non200, total_exhausted, e.connect, e.read, e.write, e.timeout))
   if total_non200 > 0 or e.connect + e.read + e.write + e.timeout > 0 then
      io.write("INVALID RUN: errors above\n")
   end
end
