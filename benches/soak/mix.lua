-- wrk script for benches/soak/run: rotates each connection's thread over
--   GET  /api/v1/music/mood               (stored mood)
--   GET  /api/v1/gallery
--   GET  /api/v1/art/{id}.png             (200, the stored PNG)
--   GET  /api/v1/art/{id}.png             (If-None-Match: its ETag -> 304)
--   POST /api/v1/ai/art                   (painted before -> 200 {artwork})
-- signed in as one user (SOAK_COOKIE, SOAK_CSRF, SOAK_ORIGIN), and counts
-- responses by status; done() prints them as `status STATUS COUNT` lines
-- and the first body of a response that was not 2xx/3xx.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local cookie = os.getenv("SOAK_COOKIE")
   local csrf = os.getenv("SOAK_CSRF")
   local origin = os.getenv("SOAK_ORIGIN")
   local art = os.getenv("SOAK_ART")
   local etag = os.getenv("SOAK_ETAG")
   local body = os.getenv("SOAK_ART_BODY")
   local h = { ["Cookie"] = cookie }
   local cond = { ["Cookie"] = cookie, ["If-None-Match"] = etag }
   local post = {
      ["Cookie"] = cookie,
      ["X-CSRF-Token"] = csrf,
      ["Origin"] = origin,
      ["Content-Type"] = "application/json",
   }
   requests = {
      wrk.format("GET", "/api/v1/music/mood", h),
      wrk.format("GET", "/api/v1/gallery", h),
      wrk.format("GET", "/api/v1/art/" .. art .. ".png", h),
      wrk.format("GET", "/api/v1/art/" .. art .. ".png", cond),
      wrk.format("POST", "/api/v1/ai/art", post, body),
   }
   counter = 0
   statuses = {}
   first_error = ""
end

function request()
   counter = counter + 1
   return requests[(counter % #requests) + 1]
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
   if status >= 400 and first_error == "" then
      first_error = status .. " " .. string.sub(body or "", 1, 300)
   end
end

function done(summary, latency, requests)
   local total = {}
   local err = ""
   for _, t in ipairs(threads) do
      local s = t:get("statuses")
      for k, v in pairs(s) do
         total[k] = (total[k] or 0) + v
      end
      local e = t:get("first_error")
      if err == "" and e ~= nil then err = e end
   end
   for k, v in pairs(total) do
      io.write(string.format("status %d %d\n", k, v))
   end
   io.write(string.format("socket_errors connect=%d read=%d write=%d timeout=%d\n",
      summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
   for _, p in ipairs({ 50, 90, 99, 99.9 }) do
      io.write(string.format("latency_p%s_ms %.2f\n", p, latency:percentile(p) / 1000))
   end
   io.write(string.format("latency_max_ms %.2f\n", latency.max / 1000))
   if err ~= "" then
      io.write("first_error " .. err .. "\n")
   end
end
