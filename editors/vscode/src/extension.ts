// The VS Code side of oomlint: runs `oomlint server` over stdio for Python files and the Python
// cells of Jupyter notebooks, passes the settings on, and adds three commands.

import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as vscode from "vscode";
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

import {
  Environment,
  RestartPolicy,
  Settings,
  didChangeConfigurationSettings,
  findExecutable,
  initializationOptions,
  needsConfigurationPush,
  needsRestart,
  normalizeSettings,
  serverCommand,
} from "./settings";

const FIX_ALL_KIND = vscode.CodeActionKind.SourceFixAll.append("oomlint");

let client: LanguageClient | undefined;
let output: vscode.OutputChannel;
const restarts = new RestartPolicy();

function readSettings(): Settings {
  const cfg = vscode.workspace.getConfiguration("oomlint");
  const { settings, problems } = normalizeSettings({
    path: cfg.get("path"),
    args: cfg.get("args"),
    targetGpu: cfg.get("targetGpu"),
    select: cfg.get("select"),
    ignore: cfg.get("ignore"),
    docsUrl: cfg.get("docsUrl"),
  });
  for (const p of problems) output.appendLine(`settings: ${p}`);
  return settings;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, process.platform === "win32" ? fs.constants.F_OK : fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function environment(): Environment {
  return {
    platform: process.platform,
    homeDir: os.homedir(),
    workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
    pathDirs: (process.env.PATH ?? "").split(path.delimiter),
    isExecutable,
  };
}

async function startClient(): Promise<void> {
  const settings = readSettings();
  const found = findExecutable(settings, environment());
  if (found.file === undefined) {
    const message = `oomlint: ${found.error}`;
    output.appendLine(message);
    const choice = await vscode.window.showErrorMessage(message, "Open Settings");
    if (choice === "Open Settings") {
      await vscode.commands.executeCommand("workbench.action.openSettings", "oomlint.path");
    }
    return;
  }
  const cmd = serverCommand(found.file, settings);
  output.appendLine(`starting ${cmd.command} ${cmd.args.join(" ")}`);
  const serverOptions: ServerOptions = {
    command: cmd.command,
    args: cmd.args,
    transport: TransportKind.stdio,
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "python" },
      { scheme: "untitled", language: "python" },
      // Notebook cells: the server advertises notebookDocumentSync for these, so the client
      // (vscode-languageclient 8 and later) sends whole notebooks with notebookDocument/* and the
      // cells are checked together; requests (hover, code actions) still come per cell.
      { notebook: { notebookType: "jupyter-notebook" }, language: "python" },
    ],
    outputChannel: output,
    initializationOptions: initializationOptions(settings),
    synchronize: {
      // The server re-reads a folder's config file when it changes.
      fileEvents: vscode.workspace.createFileSystemWatcher("**/{pyproject.toml,oomlint.toml}"),
    },
    // A server that dies is started again (the client then re-opens the editor's documents in
    // it), within RestartPolicy's bounds; a bad message does not stop the connection.
    errorHandler: {
      error: () => ({ action: ErrorAction.Continue }),
      closed: () => {
        const decision = restarts.onServerExit(Date.now());
        output.appendLine(decision.message);
        if (!decision.restart) void vscode.window.showErrorMessage(decision.message);
        return {
          action: decision.restart ? CloseAction.Restart : CloseAction.DoNotRestart,
          handled: true,
        };
      },
    },
  };
  // The client id "oomlint" makes the client read `oomlint.trace.server`.
  client = new LanguageClient("oomlint", "oomlint", serverOptions, clientOptions);
  await client.start();
}

async function stopClient(): Promise<void> {
  const c = client;
  client = undefined;
  if (c !== undefined) {
    try {
      await c.stop();
    } catch (e) {
      output.appendLine(`stopping the server: ${String(e)}`);
    }
  }
}

async function restart(): Promise<void> {
  restarts.reset();
  await stopClient();
  await startClient();
}

async function pushConfiguration(): Promise<void> {
  if (client === undefined || !client.isRunning()) return;
  await client.sendNotification(DidChangeConfigurationNotification.type, {
    settings: didChangeConfigurationSettings(readSettings()),
  });
}

// Asks the server for its source.fixAll.oomlint action on the active document and applies it.
async function fixAll(): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (editor === undefined) {
    void vscode.window.showInformationMessage("oomlint: no active editor");
    return;
  }
  const doc = editor.document;
  const range = new vscode.Range(0, 0, doc.lineCount, 0);
  const actions =
    (await vscode.commands.executeCommand<vscode.CodeAction[]>(
      "vscode.executeCodeActionProvider",
      doc.uri,
      range,
      FIX_ALL_KIND.value,
      10,
    )) ?? [];
  let applied = 0;
  for (const action of actions) {
    if (action.kind === undefined || !FIX_ALL_KIND.contains(action.kind)) continue;
    if (action.edit !== undefined && (await vscode.workspace.applyEdit(action.edit))) applied++;
    if (action.command !== undefined) {
      await vscode.commands.executeCommand(action.command.command, ...(action.command.arguments ?? []));
      applied++;
    }
  }
  if (applied === 0) void vscode.window.showInformationMessage("oomlint: nothing to fix");
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("oomlint");
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand("oomlint.restart", restart),
    vscode.commands.registerCommand("oomlint.fixAll", fixAll),
    vscode.commands.registerCommand("oomlint.showOutput", () => output.show(true)),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      const affects = (key: string) => e.affectsConfiguration(key);
      if (needsRestart(affects)) await restart();
      else if (needsConfigurationPush(affects)) await pushConfiguration();
    }),
  );
  await startClient();
}

export async function deactivate(): Promise<void> {
  await stopClient();
}
