// Unit tests of the settings-to-server logic, with node's built-in test runner (no VS Code).

import * as assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  Environment,
  RestartPolicy,
  didChangeConfigurationSettings,
  findExecutable,
  initializationOptions,
  needsConfigurationPush,
  needsRestart,
  normalizeSettings,
  serverCommand,
} from "../settings";

function env(files: string[], over: Partial<Environment> = {}): Environment {
  return {
    platform: "linux",
    homeDir: "/home/u",
    workspaceFolder: "/ws",
    pathDirs: ["/usr/local/bin", "/usr/bin"],
    isExecutable: (f) => files.includes(f),
    ...over,
  };
}

describe("normalizeSettings", () => {
  it("gives empty defaults for unset settings", () => {
    const { settings, problems } = normalizeSettings({});
    assert.deepEqual(settings, {
      path: [],
      args: [],
      targetGpu: null,
      select: [],
      ignore: [],
      docsUrl: null,
    });
    assert.deepEqual(problems, []);
  });

  it("upper-cases, trims and de-duplicates rule selectors", () => {
    const { settings } = normalizeSettings({ select: [" oom20", "OOM20", "OOM111"], ignore: ["oom203"] });
    assert.deepEqual(settings.select, ["OOM20", "OOM111"]);
    assert.deepEqual(settings.ignore, ["OOM203"]);
  });

  it("maps ALL to the prefix that selects every rule", () => {
    assert.deepEqual(normalizeSettings({ select: ["all"] }).settings.select, ["OOM"]);
  });

  it("drops selectors that are not rule codes and says why", () => {
    const { settings, problems } = normalizeSettings({ select: ["E501", "OOM203"] });
    assert.deepEqual(settings.select, ["OOM203"]);
    assert.equal(problems.length, 1);
    assert.match(problems[0], /E501/);
  });

  it("accepts a known GPU generation in any case", () => {
    assert.equal(normalizeSettings({ targetGpu: "Volta" }).settings.targetGpu, "volta");
    assert.equal(normalizeSettings({ targetGpu: "hopper" }).settings.targetGpu, "hopper");
  });

  it("rejects an unknown GPU generation and falls back to unset", () => {
    const { settings, problems } = normalizeSettings({ targetGpu: "pascal" });
    assert.equal(settings.targetGpu, null);
    assert.match(problems[0], /pascal/);
  });

  it("reports a setting of the wrong type instead of throwing", () => {
    const { settings, problems } = normalizeSettings({ args: 3, path: [1, "/opt/oomlint"] });
    assert.deepEqual(settings.args, []);
    assert.deepEqual(settings.path, ["/opt/oomlint"]);
    assert.equal(problems.length, 2);
  });
});

describe("initializationOptions", () => {
  it("sends only what the user set, so the config file stays in charge", () => {
    const { settings } = normalizeSettings({});
    assert.deepEqual(initializationOptions(settings), { pushDiagnostics: false });
  });

  it("sends select, ignore and targetGpu with the server's key names", () => {
    const { settings } = normalizeSettings({
      select: ["OOM"],
      ignore: ["OOM203"],
      targetGpu: "turing",
    });
    assert.deepEqual(initializationOptions(settings), {
      select: ["OOM"],
      ignore: ["OOM203"],
      targetGpu: "turing",
      pushDiagnostics: false,
    });
  });

  it("never sends an empty select list, which would disable every rule", () => {
    const { settings } = normalizeSettings({ select: [], ignore: ["OOM111"] });
    assert.equal("select" in initializationOptions(settings), false);
  });
});

describe("didChangeConfigurationSettings", () => {
  it("wraps the values in an oomlint section and clears unset ones with null", () => {
    const { settings } = normalizeSettings({ ignore: ["OOM203"] });
    assert.deepEqual(didChangeConfigurationSettings(settings), {
      oomlint: { select: null, ignore: ["OOM203"], targetGpu: null, docsUrl: null },
    });
  });

  it("passes docsUrl to the server, trimmed, and clears it with null when unset", () => {
    const { settings } = normalizeSettings({ docsUrl: " https://example.org/oomlint/docs/ " });
    assert.equal(initializationOptions(settings).docsUrl, "https://example.org/oomlint/docs/");
    assert.equal(
      didChangeConfigurationSettings(settings).oomlint.docsUrl,
      "https://example.org/oomlint/docs/",
    );
    const blank = normalizeSettings({ docsUrl: "  " });
    assert.equal("docsUrl" in initializationOptions(blank.settings), false);
    const wrong = normalizeSettings({ docsUrl: 3 });
    assert.equal(wrong.settings.docsUrl, null);
    assert.equal(wrong.problems.length, 1);
  });
});

describe("findExecutable", () => {
  it("uses oomlint from PATH when oomlint.path is empty", () => {
    const { settings } = normalizeSettings({});
    assert.deepEqual(findExecutable(settings, env(["/usr/bin/oomlint"])), {
      file: "/usr/bin/oomlint",
    });
  });

  it("takes the first PATH entry that has it", () => {
    const { settings } = normalizeSettings({});
    const e = env(["/usr/bin/oomlint", "/usr/local/bin/oomlint"]);
    assert.equal(findExecutable(settings, e).file, "/usr/local/bin/oomlint");
  });

  it("takes the first existing oomlint.path entry, expanding ~ and ${workspaceFolder}", () => {
    const { settings } = normalizeSettings({
      path: ["~/missing/oomlint", "${workspaceFolder}/build/server/oomlint", "/usr/bin/oomlint"],
    });
    const e = env(["/ws/build/server/oomlint", "/usr/bin/oomlint"]);
    assert.equal(findExecutable(settings, e).file, "/ws/build/server/oomlint");
  });

  it("resolves a relative oomlint.path entry against the workspace folder", () => {
    const { settings } = normalizeSettings({ path: ["build/server/oomlint"] });
    assert.equal(
      findExecutable(settings, env(["/ws/build/server/oomlint"])).file,
      "/ws/build/server/oomlint",
    );
  });

  it("does not fall back to PATH when oomlint.path is set but missing", () => {
    const { settings } = normalizeSettings({ path: ["~/bin/oomlint"] });
    const found = findExecutable(settings, env(["/usr/bin/oomlint"]));
    assert.equal(found.file, undefined);
    assert.match(found.error ?? "", /\/home\/u\/bin\/oomlint/);
  });

  it("explains how to fix a missing binary", () => {
    const { settings } = normalizeSettings({});
    const found = findExecutable(settings, env([]));
    assert.equal(found.file, undefined);
    assert.match(found.error ?? "", /oomlint\.path/);
  });

  it("looks for oomlint.exe on Windows", () => {
    const { settings } = normalizeSettings({});
    const e = env(["C:\\tools\\oomlint.exe"], { platform: "win32", pathDirs: ["C:\\tools"] });
    assert.equal(findExecutable(settings, e).file, "C:\\tools\\oomlint.exe");
  });
});

describe("serverCommand", () => {
  it("runs `server` followed by oomlint.args", () => {
    const { settings } = normalizeSettings({ args: ["--log-level", "debug"] });
    assert.deepEqual(serverCommand("/usr/bin/oomlint", settings), {
      command: "/usr/bin/oomlint",
      args: ["server", "--log-level", "debug"],
    });
  });
});

describe("which changes need what", () => {
  const only = (key: string) => (k: string) => k === key;
  it("restarts the server for path and args", () => {
    assert.equal(needsRestart(only("oomlint.path")), true);
    assert.equal(needsRestart(only("oomlint.args")), true);
    assert.equal(needsRestart(only("oomlint.select")), false);
  });

  it("pushes select, ignore and targetGpu without a restart", () => {
    for (const key of ["oomlint.select", "oomlint.ignore", "oomlint.targetGpu"]) {
      assert.equal(needsConfigurationPush(only(key)), true, key);
    }
    assert.equal(needsConfigurationPush(only("oomlint.trace.server")), false);
  });
});

describe("RestartPolicy", () => {
  it("restarts a server that dies, up to five times within three minutes", () => {
    const p = new RestartPolicy();
    for (let i = 0; i < 5; i++) assert.equal(p.onServerExit(1000 * i).restart, true);
    const sixth = p.onServerExit(5000);
    assert.equal(sixth.restart, false);
    assert.match(sixth.message, /6 times in 3 minutes/);
  });

  it("forgets exits older than the window, and all of them on a restart the user asks for", () => {
    const p = new RestartPolicy(2, 60_000);
    assert.equal(p.onServerExit(0).restart, true);
    assert.equal(p.onServerExit(1).restart, true);
    assert.equal(p.onServerExit(70_000).restart, true);
    assert.equal(p.onServerExit(70_001).restart, true);
    assert.equal(p.onServerExit(70_002).restart, false);
    p.reset();
    assert.equal(p.onServerExit(70_003).restart, true);
  });
});
