// The extension's settings and what they turn into: the command that starts the server, the
// server's initializationOptions and the workspace/didChangeConfiguration payload.
// Pure logic with no `vscode` import, so node's test runner can test it without VS Code.

import * as path from "path";

export const TARGET_GPUS = ["volta", "turing", "ampere", "ada", "hopper", "blackwell"] as const;
export type TargetGpu = (typeof TARGET_GPUS)[number];

// The settings as VS Code hands them over (`oomlint.*`), before any checking.
export interface RawSettings {
  path?: unknown;
  args?: unknown;
  targetGpu?: unknown;
  select?: unknown;
  ignore?: unknown;
  docsUrl?: unknown;
}

export interface Settings {
  path: string[];
  args: string[];
  targetGpu: TargetGpu | null;
  select: string[];
  ignore: string[];
  // Where diagnostic and hover links point: a hosted copy of the docs or a directory; null: the
  // server's default (the installed docs, else the source tree's docs/).
  docsUrl: string | null;
}

// What the server reads (server/lsp/settings_source.cpp): camelCase keys, each optional.
export interface ServerSettings {
  select?: string[];
  ignore?: string[];
  targetGpu?: TargetGpu;
  docsUrl?: string;
}

export interface ServerCommand {
  command: string;
  args: string[];
}

// Checked settings plus the problems found on the way; a bad value falls back to its default.
export interface Normalized {
  settings: Settings;
  problems: string[];
}

function stringList(value: unknown, key: string, problems: string[]): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === "string") value = [value];
  if (!Array.isArray(value)) {
    problems.push(`oomlint.${key} must be a list of strings`);
    return [];
  }
  const out: string[] = [];
  for (const item of value) {
    if (typeof item !== "string") {
      problems.push(`oomlint.${key}: ignoring a value that is not a string`);
      continue;
    }
    const trimmed = item.trim();
    if (trimmed !== "") out.push(trimmed);
  }
  return out;
}

// Rule selectors: upper case, de-duplicated, order kept; "oom20" means "OOM20".
function ruleList(value: unknown, key: string, problems: string[]): string[] {
  const out: string[] = [];
  for (const item of stringList(value, key, problems)) {
    // "ALL" as in Ruff: every rule, which for oomlint is the prefix "OOM".
    const code = item.toUpperCase() === "ALL" ? "OOM" : item.toUpperCase();
    if (!/^OOM[0-9]*$/.test(code)) {
      problems.push(`oomlint.${key}: \`${item}\` is not a rule code or prefix (e.g. OOM203, OOM20)`);
      continue;
    }
    if (!out.includes(code)) out.push(code);
  }
  return out;
}

export function normalizeSettings(raw: RawSettings): Normalized {
  const problems: string[] = [];
  let targetGpu: TargetGpu | null = null;
  if (raw.targetGpu !== undefined && raw.targetGpu !== null && raw.targetGpu !== "") {
    const name = typeof raw.targetGpu === "string" ? raw.targetGpu.trim().toLowerCase() : "";
    if ((TARGET_GPUS as readonly string[]).includes(name)) {
      targetGpu = name as TargetGpu;
    } else {
      problems.push(
        `oomlint.targetGpu: unknown GPU generation \`${String(raw.targetGpu)}\` ` +
          `(one of ${TARGET_GPUS.join(", ")})`,
      );
    }
  }
  let docsUrl: string | null = null;
  if (raw.docsUrl !== undefined && raw.docsUrl !== null) {
    if (typeof raw.docsUrl !== "string") {
      problems.push("oomlint.docsUrl must be a string: a URL or a directory");
    } else if (raw.docsUrl.trim() !== "") {
      docsUrl = raw.docsUrl.trim();
    }
  }
  return {
    settings: {
      path: stringList(raw.path, "path", problems),
      args: stringList(raw.args, "args", problems),
      targetGpu,
      select: ruleList(raw.select, "select", problems),
      ignore: ruleList(raw.ignore, "ignore", problems),
      docsUrl,
    },
    problems,
  };
}

// Only the settings the user gave: an empty `select` would otherwise turn every rule off, and
// an unset value must leave the project's config file (pyproject.toml [tool.oomlint]) in charge.
export function serverSettings(s: Settings): ServerSettings {
  const out: ServerSettings = {};
  if (s.select.length > 0) out.select = [...s.select];
  if (s.ignore.length > 0) out.ignore = [...s.ignore];
  if (s.targetGpu !== null) out.targetGpu = s.targetGpu;
  if (s.docsUrl !== null) out.docsUrl = s.docsUrl;
  return out;
}

// vscode-languageclient pulls diagnostics (textDocument/diagnostic) from a server that offers
// them, as oomlint does; the server is told not to push as well, or every problem would show twice.
export function initializationOptions(s: Settings): ServerSettings & { pushDiagnostics: boolean } {
  return { ...serverSettings(s), pushDiagnostics: false };
}

// The `settings` of workspace/didChangeConfiguration. Keys the user cleared are sent as null so
// the server drops an earlier value and goes back to the config file or its default.
export function didChangeConfigurationSettings(s: Settings): {
  oomlint: {
    select: string[] | null;
    ignore: string[] | null;
    targetGpu: TargetGpu | null;
    docsUrl: string | null;
  };
} {
  const v = serverSettings(s);
  return {
    oomlint: {
      select: v.select ?? null,
      ignore: v.ignore ?? null,
      targetGpu: v.targetGpu ?? null,
      docsUrl: v.docsUrl ?? null,
    },
  };
}

export interface Environment {
  platform: NodeJS.Platform;
  homeDir: string;
  workspaceFolder?: string;
  // PATH entries, in order.
  pathDirs: string[];
  isExecutable(file: string): boolean;
}

// `~`, `${workspaceFolder}`, `${userHome}` in a configured path.
export function expandPath(p: string, env: Environment): string {
  let out = p;
  if (out === "~" || out.startsWith("~/") || out.startsWith("~\\")) out = env.homeDir + out.slice(1);
  out = out.replace(/\$\{userHome\}/g, env.homeDir);
  if (env.workspaceFolder !== undefined) {
    out = out.replace(/\$\{workspaceFolder\}/g, env.workspaceFolder);
  }
  return out;
}

function executableNames(env: Environment): string[] {
  return env.platform === "win32" ? ["oomlint.exe", "oomlint"] : ["oomlint"];
}

// The executable to run: the first existing entry of `oomlint.path`, else `oomlint` on PATH.
// Returns an error message when nothing is found.
export function findExecutable(s: Settings, env: Environment): { file?: string; error?: string } {
  const pathModule = env.platform === "win32" ? path.win32 : path.posix;
  if (s.path.length > 0) {
    const tried: string[] = [];
    for (const entry of s.path) {
      let file = expandPath(entry, env);
      if (!pathModule.isAbsolute(file) && env.workspaceFolder !== undefined) {
        file = pathModule.join(env.workspaceFolder, file);
      }
      tried.push(file);
      if (env.isExecutable(file)) return { file };
    }
    return { error: `none of the executables in oomlint.path exists: ${tried.join(", ")}` };
  }
  for (const dir of env.pathDirs) {
    if (dir === "") continue;
    for (const name of executableNames(env)) {
      const file = pathModule.join(dir, name);
      if (env.isExecutable(file)) return { file };
    }
  }
  return {
    error:
      "the `oomlint` executable is not on PATH; install it (cmake --install) or set oomlint.path",
  };
}

export function serverCommand(file: string, s: Settings): ServerCommand {
  return { command: file, args: ["server", ...s.args] };
}

// Settings whose change needs a new server process; the others go over
// workspace/didChangeConfiguration.
export const RESTART_KEYS = ["oomlint.path", "oomlint.args"] as const;
export const LIVE_KEYS = ["oomlint.targetGpu", "oomlint.select", "oomlint.ignore"] as const;

export function needsRestart(affects: (key: string) => boolean): boolean {
  return RESTART_KEYS.some((k) => affects(k));
}

export function needsConfigurationPush(affects: (key: string) => boolean): boolean {
  return LIVE_KEYS.some((k) => affects(k));
}

// What to do when the server process dies by itself (a crash, kill -9, out of memory): start it
// again, and vscode-languageclient then opens the editor's documents in the new server (didOpen
// with their current text), unless it died `maxRestarts` times within `windowMs`: a server that
// crashes at start would otherwise restart for ever.
export class RestartPolicy {
  private exits: number[] = [];
  constructor(
    readonly maxRestarts = 5,
    readonly windowMs = 180_000,
  ) {}

  onServerExit(nowMs: number): { restart: boolean; message: string } {
    this.exits = this.exits.filter((t) => nowMs - t < this.windowMs);
    this.exits.push(nowMs);
    const n = this.exits.length;
    if (n > this.maxRestarts) {
      return {
        restart: false,
        message:
          `oomlint: the server stopped ${n} times in ${Math.round(this.windowMs / 60_000)} minutes; ` +
          "not restarting it (run `oomlint: Restart Server` once the cause is fixed)",
      };
    }
    return { restart: true, message: "oomlint: the server stopped unexpectedly; restarting it" };
  }

  // After a restart the user asked for, the count starts over.
  reset(): void {
    this.exits = [];
  }
}
