-- Drives headless Neovim (0.7+) with editors/nvim against the real `oomlint server`.
-- Env: OOMLINT_BINARY, OOMLINT_SOURCE_DIR, OOMLINT_NVIM_PROJECT (a project made by nvim_lsp.sh).
-- Exits 0 when every check passed, 1 otherwise; prints one line per check.

local failures = 0
local function check(ok, what, detail)
  if ok then
    print("ok   " .. what)
  else
    failures = failures + 1
    print("FAIL " .. what .. (detail and (": " .. detail) or ""))
  end
end

local function finish()
  print(string.format("nvim: %d failed", failures))
  vim.cmd(failures == 0 and "qall!" or "cquit! 1")
end

local ok_all, err = pcall(function()
  local project = assert(os.getenv("OOMLINT_NVIM_PROJECT"), "OOMLINT_NVIM_PROJECT unset")
  local binary = assert(os.getenv("OOMLINT_BINARY"), "OOMLINT_BINARY unset")
  local source = assert(os.getenv("OOMLINT_SOURCE_DIR"), "OOMLINT_SOURCE_DIR unset")
  vim.opt.runtimepath:prepend(source .. "/editors/nvim")
  vim.cmd("filetype on")

  local oomlint = require("oomlint")
  oomlint.setup({ cmd = { binary, "server" } })

  local file = project .. "/src/train.py"
  vim.cmd("edit " .. vim.fn.fnameescape(file))
  local buf = vim.api.nvim_get_current_buf()
  check(vim.bo[buf].filetype == "python", "the fixture is a python buffer")

  -- 1. The server starts with the root found from pyproject.toml.
  local client
  vim.wait(10000, function()
    for _, c in pairs(vim.lsp.buf_get_clients(buf)) do
      if c.name == "oomlint" then
        client = c
      end
    end
    return client ~= nil and client.initialized
  end, 50)
  check(client ~= nil, "an oomlint client is attached to the buffer")
  if client == nil then
    return
  end
  check(client.config.root_dir == project, "root_dir is the directory of pyproject.toml",
    tostring(client.config.root_dir))

  -- 2. Diagnostics arrive, with the expected codes and positions (0-based line, byte column).
  local function oomlint_diagnostics()
    local out = {}
    for _, d in ipairs(vim.diagnostic.get(buf)) do
      if d.source == "oomlint" then
        local code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code)
        table.insert(out, { code = code, lnum = d.lnum, col = d.col })
      end
    end
    table.sort(out, function(a, b)
      return a.lnum < b.lnum
    end)
    return out
  end
  vim.wait(20000, function()
    return #oomlint_diagnostics() >= 2
  end, 50)
  local got = oomlint_diagnostics()
  local expected = {
    { code = "OOM203", lnum = 8, col = 8 },
    { code = "OOM203", lnum = 14, col = 12 },
  }
  check(vim.deep_equal(got, expected), "diagnostics: OOM203 at 9:9 and 15:13", vim.inspect(got))

  -- 3. A quick fix through vim.lsp.buf.code_action, choosing the item as a user would.
  local offered = {}
  vim.ui.select = function(items, opts, on_choice)
    local pick
    for i, item in ipairs(items) do
      local title = opts.format_item and opts.format_item(item) or tostring(item)
      table.insert(offered, title)
      if pick == nil and title:find("empty_cache", 1, true) then
        pick = i
      end
    end
    on_choice(pick and items[pick] or nil, pick)
  end
  vim.api.nvim_win_set_cursor(0, { 9, 8 })
  local before = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n")
  vim.lsp.buf.code_action()
  vim.wait(10000, function()
    return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n") ~= before
  end, 50)
  check(#offered > 0, "code actions are offered on the diagnostic's line", vim.inspect(offered))
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local want = vim.fn.readfile(project .. "/expected_after_fix.py")
  check(vim.deep_equal(lines, want), "the quick fix removed the empty_cache() call",
    "\n" .. table.concat(lines, "\n"))

  -- 4. The edit reaches the server: the fixed line's diagnostic goes away.
  vim.wait(20000, function()
    return #oomlint_diagnostics() == 1
  end, 50)
  got = oomlint_diagnostics()
  check(vim.deep_equal(got, { { code = "OOM203", lnum = 13, col = 12 } }),
    "after the edit one OOM203 is left, one line up", vim.inspect(got))

  -- 5. Settings pushed with workspace/didChangeConfiguration reach the server.
  oomlint.update_settings({ ignore = { "OOM203" } })
  vim.wait(20000, function()
    return #oomlint_diagnostics() == 0
  end, 50)
  check(#oomlint_diagnostics() == 0, "ignore = { 'OOM203' } clears the diagnostics",
    vim.inspect(oomlint_diagnostics()))

  -- 6. Clearing the settings brings the diagnostic back.
  oomlint.update_settings({})
  vim.wait(20000, function()
    return #oomlint_diagnostics() == 1
  end, 50)
  check(#oomlint_diagnostics() == 1, "clearing the settings brings OOM203 back",
    vim.inspect(oomlint_diagnostics()))

  -- 7. :OomlintRestart stops the server and attaches a new one to the buffer.
  local old_id = client.id
  vim.cmd("OomlintRestart")
  local new_client
  vim.wait(20000, function()
    for _, c in pairs(vim.lsp.buf_get_clients(buf)) do
      if c.name == "oomlint" and c.id ~= old_id and c.initialized then
        new_client = c
      end
    end
    return new_client ~= nil
  end, 50)
  check(new_client ~= nil, ":OomlintRestart attaches a new server")
  check(vim.lsp.get_client_by_id(old_id) == nil, "the old server is gone")
  if new_client ~= nil then
    vim.wait(20000, function()
      for _, d in ipairs(vim.diagnostic.get(buf)) do
        if d.source == "oomlint" and d.namespace == vim.lsp.diagnostic.get_namespace(new_client.id) then
          return true
        end
      end
      return false
    end, 50)
    local from_new = 0
    for _, d in ipairs(vim.diagnostic.get(buf, { namespace = vim.lsp.diagnostic.get_namespace(new_client.id) })) do
      if d.source == "oomlint" then
        from_new = from_new + 1
      end
    end
    check(from_new == 1, "the new server publishes the diagnostic", tostring(from_new))
  end

  -- 8. :OomlintFixAll applies the server's source.fixAll.oomlint action (safe fixes: OOM111).
  vim.cmd("edit " .. vim.fn.fnameescape(project .. "/src/model.py"))
  local mbuf = vim.api.nvim_get_current_buf()
  vim.wait(20000, function()
    for _, d in ipairs(vim.diagnostic.get(mbuf)) do
      if d.source == "oomlint" then
        return true
      end
    end
    return false
  end, 50)
  local mcodes = {}
  for _, d in ipairs(vim.diagnostic.get(mbuf)) do
    table.insert(mcodes, string.format("%s@%d:%d", tostring(d.code), d.lnum, d.col))
  end
  check(vim.deep_equal(mcodes, { "OOM111@6:24" }), "model.py: OOM111 at 7:25", vim.inspect(mcodes))
  vim.cmd("OomlintFixAll")
  local mlines = vim.api.nvim_buf_get_lines(mbuf, 0, -1, false)
  check(vim.deep_equal(mlines, vim.fn.readfile(project .. "/expected_model_fixed.py")),
    ":OomlintFixAll applied the safe fix", "\n" .. table.concat(mlines, "\n"))
  vim.wait(20000, function()
    return #vim.diagnostic.get(mbuf) == 0
  end, 50)
  check(#vim.diagnostic.get(mbuf) == 0, "model.py is clean after the fix")

  -- 9. The server is killed (kill -9): the plugin starts a new one, which gets the buffers' text
  --    as it is now (train.py edited by step 3), and the diagnostic comes back from it.
  local function train_diagnostics(id)
    local out = {}
    for _, d in ipairs(vim.diagnostic.get(buf, { namespace = vim.lsp.diagnostic.get_namespace(id) })) do
      if d.source == "oomlint" then
        table.insert(out, string.format("%s@%d:%d", tostring(d.code), d.lnum, d.col))
      end
    end
    return out
  end
  local victim
  for _, c in pairs(vim.lsp.buf_get_clients(buf)) do
    if c.name == "oomlint" then
      victim = c
    end
  end
  check(victim ~= nil and victim.rpc and victim.rpc.pid, "the running server's pid is known")
  if victim ~= nil and victim.rpc and victim.rpc.pid then
    local before_kill = train_diagnostics(victim.id)
    -- The buffer holds step 3's fix, not saved: the file on disk has two OOM203 (lines 9, 15).
    check(vim.bo[buf].modified and vim.deep_equal(before_kill, { "OOM203@13:12" }),
      "before the kill: train.py edited and unsaved, one OOM203", vim.inspect(before_kill))
    vim.loop.kill(victim.rpc.pid, 9)
    local revived
    vim.wait(20000, function()
      for _, c in pairs(vim.lsp.buf_get_clients(buf)) do
        if c.name == "oomlint" and c.id ~= victim.id and c.initialized then
          revived = c
        end
      end
      return revived ~= nil and #train_diagnostics(revived.id) > 0
    end, 50)
    check(revived ~= nil, "after kill -9 a new server is attached to the buffer")
    if revived ~= nil then
      check(vim.deep_equal(train_diagnostics(revived.id), before_kill),
        "the new server publishes the diagnostics of the buffer's current text",
        vim.inspect({ before = before_kill, after = train_diagnostics(revived.id) }))
      local attached_model = false
      for _, c in pairs(vim.lsp.buf_get_clients(mbuf)) do
        attached_model = attached_model or c.id == revived.id
      end
      check(attached_model, "the other open buffer is re-synced with the new server too")
    end
  end
end)

if not ok_all then
  check(false, "the test script ran to the end", tostring(err))
end
finish()
