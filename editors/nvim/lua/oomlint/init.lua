-- oomlint for Neovim: starts `oomlint server` for Python buffers, one client per project root.
-- Works on Neovim 0.7 (vim.lsp.start_client + vim.lsp.buf_attach_client) and on 0.8+
-- (vim.lsp.start, which reuses a client with the same name and root by itself).
--
--   require("oomlint").setup({
--     cmd = { "oomlint", "server" },            -- or an absolute path to the binary
--     settings = { targetGpu = "volta", ignore = { "OOM203" } },
--   })

local M = {}

local FIX_ALL_KIND = "source.fixAll.oomlint"

local defaults = {
  -- The server command; `oomlint` must be on PATH unless an absolute path is given.
  cmd = { "oomlint", "server" },
  filetypes = { "python" },
  -- The root is the nearest directory holding one of these; else the file's own directory.
  root_markers = { "pyproject.toml", "oomlint.toml", ".git" },
  -- select / ignore / targetGpu / evalAccumulationSteps / gpuMemory / docsUrl, as the server
  -- reads them.
  -- Unset keys leave the project's [tool.oomlint] table in charge.
  settings = {},
  on_attach = nil,
  capabilities = nil,
  -- A server that dies (crash, kill -9) is started again and given the open buffers (their
  -- current text, with didOpen), up to this many times within `restart_window_ms`.
  max_restarts = 5,
  restart_window_ms = 180000,
}

M.config = vim.deepcopy(defaults)

-- Clients this module started, by root directory (used on Neovim 0.7).
local clients_by_root = {}
-- Clients being stopped on purpose (:OomlintRestart, quitting): their exit is no crash.
local stopping = {}
-- Recent crash restarts (times in ms): at most `max_restarts` within `restart_window_ms`.
local restarts = {}

local function is_dir(p)
  local stat = vim.loop.fs_stat(p)
  return stat ~= nil and stat.type == "directory"
end

local function exists(p)
  return vim.loop.fs_stat(p) ~= nil
end

local function parent(dir)
  local p = vim.fn.fnamemodify(dir, ":h")
  if p == dir then
    return nil
  end
  return p
end

--- The project root of a file: the nearest ancestor directory holding a root marker, else the
--- file's directory.
function M.find_root(fname, markers)
  markers = markers or M.config.root_markers
  local start = vim.fn.fnamemodify(fname, ":p:h")
  local dir = start
  while dir ~= nil do
    for _, marker in ipairs(markers) do
      if exists(dir .. "/" .. marker) then
        return dir
      end
    end
    dir = parent(dir)
  end
  return is_dir(start) and start or vim.loop.cwd()
end

local function server_settings()
  local s = M.config.settings or {}
  -- An empty dict, so that no settings encode as {} and not as [].
  local out = vim.empty_dict()
  for key, value in pairs(s) do
    -- An empty select list would turn every rule off; leave it to the config file instead.
    if not (type(value) == "table" and vim.tbl_isempty(value)) then
      out[key] = value
    end
  end
  return out
end

local attach_buffers_of_root

-- The server of `root` exited by itself: start it again for the root's Python buffers, unless it
-- crashed too often lately.
local function on_server_exit(code, signal, client_id, root)
  if stopping[client_id] then
    stopping[client_id] = nil
    return
  end
  if (code == 0 and signal == 0) or vim.v.exiting ~= vim.NIL then
    return
  end
  local now = vim.loop.now()
  local recent = {}
  for _, t in ipairs(restarts) do
    if now - t < M.config.restart_window_ms then
      table.insert(recent, t)
    end
  end
  restarts = recent
  if #restarts >= M.config.max_restarts then
    vim.notify(
      string.format("oomlint: the server exited (code %d, signal %d) %d times lately; not restarting it "
        .. "(:OomlintRestart starts it again)", code, signal, #restarts + 1),
      vim.log.levels.ERROR
    )
    return
  end
  table.insert(restarts, now)
  vim.notify(string.format("oomlint: the server exited (code %d, signal %d); restarting it", code, signal),
    vim.log.levels.WARN)
  if clients_by_root[root] == client_id then
    clients_by_root[root] = nil
  end
  -- After Neovim has let go of the dead client (vim.lsp.start would reuse it).
  local waited = 0
  local function again()
    if vim.lsp.get_client_by_id(client_id) ~= nil and waited < 5000 then
      waited = waited + 50
      vim.defer_fn(again, 50)
      return
    end
    attach_buffers_of_root(root)
  end
  vim.defer_fn(again, 50)
end

local function client_config(root)
  local settings = server_settings()
  return {
    name = "oomlint",
    cmd = M.config.cmd,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
    init_options = settings,
    -- What the client answers to workspace/configuration; M.update_settings() pushes changes.
    settings = { oomlint = settings },
    capabilities = M.config.capabilities,
    on_attach = M.config.on_attach,
    on_exit = function(code, signal, client_id)
      vim.schedule(function()
        on_server_exit(code, signal, client_id, root)
      end)
    end,
  }
end

-- Client methods became `client:method()` in Neovim 0.11; older versions take `client.method()`.
local colon_methods = vim.fn.has("nvim-0.11") == 1
local function call(client, method, ...)
  if colon_methods then
    return client[method](client, ...)
  end
  return client[method](...)
end

-- The oomlint clients, of one buffer or of all.
local function oomlint_clients(bufnr)
  if vim.lsp.get_clients ~= nil then
    return vim.lsp.get_clients({ name = "oomlint", bufnr = bufnr })
  end
  local out = {}
  local all = bufnr and vim.lsp.buf_get_clients(bufnr) or vim.lsp.get_active_clients()
  for _, client in pairs(all) do
    if client.name == "oomlint" then
      table.insert(out, client)
    end
  end
  return out
end

local function usable(id)
  local client = id and vim.lsp.get_client_by_id(id)
  return client ~= nil and not call(client, "is_stopped")
end

--- Starts (or reuses) the server for `bufnr` and attaches it. Returns the client id.
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if vim.bo[bufnr].buftype ~= "" then
    return nil
  end
  local fname = vim.api.nvim_buf_get_name(bufnr)
  if fname == "" then
    return nil
  end
  local exe = M.config.cmd[1]
  if vim.fn.executable(exe) ~= 1 then
    (vim.notify_once or vim.notify)(
      "oomlint: `" .. exe .. "` is not executable; put oomlint on PATH or set cmd in setup()",
      vim.log.levels.ERROR
    )
    return nil
  end
  local root = M.find_root(fname)
  if vim.lsp.start ~= nil then
    return vim.lsp.start(client_config(root), { bufnr = bufnr })
  end
  local id = clients_by_root[root]
  if not usable(id) then
    id = vim.lsp.start_client(client_config(root))
    clients_by_root[root] = id
  end
  if id ~= nil then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

-- The loaded buffers the plugin is for (by filetype).
local function plugin_buffers()
  local bufs = {}
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) and vim.tbl_contains(M.config.filetypes, vim.bo[b].filetype) then
      table.insert(bufs, b)
    end
  end
  return bufs
end

attach_buffers_of_root = function(root)
  for _, b in ipairs(plugin_buffers()) do
    local fname = vim.api.nvim_buf_get_name(b)
    if fname ~= "" and M.find_root(fname) == root then
      M.attach(b)
    end
  end
end

--- Applies the server's source.fixAll.oomlint action (every safe fix) to `bufnr`.
--- Returns the number of edits applied.
function M.fix_all(bufnr, timeout_ms)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local applied = 0
  for _, client in ipairs(oomlint_clients(bufnr)) do
    local last = vim.api.nvim_buf_line_count(bufnr)
    local params = {
      textDocument = { uri = vim.uri_from_bufnr(bufnr) },
      range = { start = { line = 0, character = 0 }, ["end"] = { line = last, character = 0 } },
      context = { diagnostics = {}, only = { FIX_ALL_KIND } },
    }
    local response = call(client, "request_sync", "textDocument/codeAction", params, timeout_ms or 5000, bufnr)
    if response and response.err then
      vim.notify("oomlint: " .. tostring(response.err.message), vim.log.levels.ERROR)
    end
    for _, action in ipairs((response and response.result) or {}) do
      if action.kind == FIX_ALL_KIND and action.edit then
        vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding)
        applied = applied + 1
      end
    end
  end
  return applied
end

--- Changes the settings of running servers (workspace/didChangeConfiguration) and of those
--- started later.
function M.update_settings(settings)
  M.config.settings = settings or {}
  for _, client in ipairs(oomlint_clients(nil)) do
    client.config.settings = { oomlint = server_settings() }
    call(client, "notify", "workspace/didChangeConfiguration", { settings = { oomlint = server_settings() } })
  end
end

--- Stops the servers and starts them again for the Python buffers.
function M.restart()
  -- Every buffer the plugin is for, also those whose server died.
  local bufs = plugin_buffers()
  local ids = {}
  for _, client in ipairs(oomlint_clients(nil)) do
    table.insert(ids, client.id)
    stopping[client.id] = true
    vim.lsp.stop_client(client.id)
  end
  clients_by_root = {}
  -- Start the new servers once the old ones are gone (vim.lsp.start would reuse a dying one).
  local waited = 0
  local function again()
    local alive = false
    for _, id in ipairs(ids) do
      alive = alive or vim.lsp.get_client_by_id(id) ~= nil
    end
    if alive and waited < 5000 then
      waited = waited + 100
      vim.defer_fn(again, 100)
      return
    end
    for _, b in ipairs(bufs) do
      if vim.api.nvim_buf_is_valid(b) then
        M.attach(b)
      end
    end
  end
  again()
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(defaults), opts or {})
  -- Lists replace, not merge.
  if opts and opts.cmd then
    M.config.cmd = opts.cmd
  end
  if opts and opts.root_markers then
    M.config.root_markers = opts.root_markers
  end
  local group = vim.api.nvim_create_augroup("oomlint", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = M.config.filetypes,
    callback = function(args)
      M.attach(args.buf)
    end,
  })
  vim.api.nvim_create_user_command("OomlintFixAll", function()
    M.fix_all()
  end, { desc = "oomlint: apply every safe fix in the buffer" })
  vim.api.nvim_create_user_command("OomlintRestart", function()
    M.restart()
  end, { desc = "oomlint: restart the language server" })
  -- Buffers already open when setup() runs.
  for _, b in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(b) and vim.tbl_contains(M.config.filetypes, vim.bo[b].filetype) then
      M.attach(b)
    end
  end
end

return M
