-- The writers of bench/writes_bench.py as a wrk script: each wrk thread is one client on
-- one keep-alive connection (run with as many threads as connections), logged in as its
-- unit and as its village (their cookies and form tokens come from the file named by
-- WRITES_CLIENTS, one client a line: unit cookie, unit token, village cookie, village
-- token, village code, tab-separated, written by the bench after logging each one in).
--
-- A client files a record and submits it as the unit (POST /records/new), then confirms
-- it as the village (POST /records/<id>/confirm), again and again: the Python clients'
-- round, at a fraction of their CPU (the 16 Python threads took about a fifth of the 2
-- cores the server needs). At the end each thread's acknowledged writes are printed, one
-- line each, for the bench to look for in the database:
--   submitted <id>,<id>,...   confirmed <id>,...   errors <n> <first bad answer>

local clients, threads = {}, {}

function setup(thread)
   if #clients == 0 then
      for line in io.lines(os.getenv("WRITES_CLIENTS")) do
         local fields = {}
         for field in (line .. "\t"):gmatch("([^\t]*)\t") do fields[#fields + 1] = field end
         clients[#clients + 1] = fields
      end
   end
   local client = clients[#threads + 1]
   thread:set("unit_cookie", client[1])
   thread:set("unit_token", client[2])
   thread:set("village_cookie", client[3])
   thread:set("village_token", client[4])
   thread:set("village", client[5])
   threads[#threads + 1] = thread
end

-- in each thread's own state
local categories = {"funds", "industry", "education"}
local form = {["Content-Type"] = "application/x-www-form-urlencoded"}
local day = os.getenv("WRITES_DAY")
local title = os.getenv("WRITES_TITLE")  -- already percent-encoded
local n, record = 0, nil
submitted, confirmed, errors, first_error = {}, {}, 0, ""

local function headers(cookie)
   form["Cookie"] = cookie
   return form
end

local function cookie_from(set_cookie, current)
   local session = set_cookie and set_cookie:match("^(session=[^;]*)")
   return session or current
end

function request()
   if record == nil then
      n = n + 1
      return wrk.format("POST", "/records/new", headers(unit_cookie),
         "village_code=" .. village .. "&category=" .. categories[n % 3 + 1] .. "&title=" .. title .. n ..
         "&record_date=" .. day .. "&amount=" .. (1000 + n) .. "&households=3&persons=9&jobs=1&description=" ..
         "&action=submit&csrf_token=" .. unit_token)
   end
   return wrk.format("POST", "/records/" .. record .. "/confirm", headers(village_cookie),
      "version=&next=&csrf_token=" .. village_token)
end

local function refuse(what, status)
   errors = errors + 1
   if first_error == "" then first_error = what .. ": " .. status end
end

function response(status, answer, body)
   local location = answer["Location"] or ""
   if record == nil then
      unit_cookie = cookie_from(answer["Set-Cookie"], unit_cookie)
      local id = status == 302 and location:match("/records/(%d+)$")
      if id then
         submitted[#submitted + 1] = id
         record = id
      else
         refuse("file", status)
      end
   else
      village_cookie = cookie_from(answer["Set-Cookie"], village_cookie)
      if status == 302 and location:sub(-#("/records/" .. record)) == "/records/" .. record then
         confirmed[#confirmed + 1] = record
      else
         refuse("confirm", status)
      end
      record = nil
   end
end

function done(summary, latency, requests)
   for _, thread in ipairs(threads) do
      io.write("submitted\t", table.concat(thread:get("submitted"), ","), "\n")
      io.write("confirmed\t", table.concat(thread:get("confirmed"), ","), "\n")
      io.write("errors\t", thread:get("errors"), "\t", thread:get("first_error"), "\n")
   end
   local e = summary.errors
   io.write("socket_errors\t", e.connect + e.read + e.write + e.timeout, "\n")
   io.write("duration_us\t", summary.duration, "\n")
end
