#!/usr/bin/env node
// A stand-in for the Claude Code CLI in stream-json mode (../../../shared/spec/providers.md §4.1), for tests: the real
// CLI needs Anthropic's cloud. It speaks the same NDJSON on stdin/stdout — control_request/control_response, system
// init, stream_event deltas, assistant/user messages, result — and misbehaves on demand. The prompt is the script:
//   [tool CMD]        a Bash tool_use; asks can_use_tool unless the mode is bypassPermissions; allow → tool_result,
//                     deny → an error tool_result (deny with interrupt → the turn ends as interrupted)
//   [hang]            waits until interrupted (an interrupt ends the turn with error_during_execution)
//   [deaf]            waits and ignores interrupts too (the daemon must stop the process)
//   [crash]           prints part of the reply, writes to stderr and exits 3 mid-turn
//   [exit-on-permission] asks can_use_tool, then exits 4 before the answer
//   [malformed]       prints a line that is not JSON, then goes on
//   [flood N]         streams N text deltas as fast as it can
//   [fail]            ends the turn with result subtype error_during_execution
//   [remember]        replies with the first prompt this session ever saw (shows a resumed conversation)
//   [compact]         system/status compacting, then system/compact_boundary {trigger:"auto", pre_tokens}
//   [subagent]        a Task tool_use whose sub-agent works in a sidechain (messages with parent_tool_use_id)
//   [stop-reading]    stops reading stdin (its pipe fills up) and waits forever
//   [long-stderr]     writes a 20 000-character stderr line, then replies as usual
//   [images]          replies with the images of the user message ("image/png 68 bytes", ...)
//   [ask]             asks AskUserQuestion; replies with the answers (its input must come back with the questions)
//   [plan-exit]       asks can_use_tool for ExitPlanMode with a plan; replies with what was decided
//   [flags]           replies with the thinking/effort/model flags and the checkpointing env it was started with, and
//                     the session's first prompt
// Like the real CLI, stream-json output without --verbose is refused at start.
// Every other turn streams "Fake claude reply to: PROMPT" as deltas and ends with result success.
// FAKE_CLAUDE_LOG (env): a file to append one JSON line per start: {pid, argv, agentId, cwd, profileEnv (PROFILE_ENV_CHECK)}.
import { appendFileSync, readFileSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { tmpdir } from "node:os";

const argv = process.argv.slice(2);
if (argv.includes("--version")) {
  console.log("2.0.0 (Fake Claude Code)");
  process.exit(0);
}
const flag = (name) => {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(name + "="));
  return eq ? eq.slice(name.length + 1) : undefined;
};
// FAKE_MCP_LOG (env): a file to append what the daemon gave it of its MCP server: {provider, agentId, config (--mcp-config), authorization (its env)}.
if (process.env.FAKE_MCP_LOG && flag("--mcp-config")) {
  appendFileSync(process.env.FAKE_MCP_LOG, JSON.stringify({ provider: "claude", agentId: process.env.PASEO_AGENT_ID ?? null,
    config: JSON.parse(flag("--mcp-config")), authorization: process.env.PASEO_MCP_AUTHORIZATION ?? null }) + "\n");
}
if (process.env.FAKE_CLAUDE_LOG) {
  appendFileSync(process.env.FAKE_CLAUDE_LOG, JSON.stringify({ pid: process.pid, argv, agentId: process.env.PASEO_AGENT_ID ?? null, cwd: process.cwd(), profileEnv: process.env.PROFILE_ENV_CHECK ?? null }) + "\n");
}

if (flag("--output-format") === "stream-json" && !argv.includes("--verbose")) {
  process.stderr.write("Error: When using --print, --output-format=stream-json requires --verbose\n");
  process.exit(1);
}
let mode = flag("--permission-mode") ?? "default";
// Like the real CLI: bypassing permissions is refused as root unless IS_SANDBOX=1, and needs the flag to be chosen later.
const bypassAllowed = argv.includes("--allow-dangerously-skip-permissions") || argv.includes("--dangerously-skip-permissions");
if ((bypassAllowed || mode === "bypassPermissions") && process.getuid?.() === 0 && process.env.IS_SANDBOX !== "1") {
  process.stderr.write("--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons\n");
  process.exit(1);
}
const resumed = flag("--resume");
const sessionId = resumed ?? randomUUID();
// Conversations "persist" like the real CLI's: a file per session id, so --resume finds the first prompt again.
const store = join(process.env.FAKE_CLAUDE_STORE ?? join(tmpdir(), "fake-claude"), sessionId + ".json");
mkdirSync(join(store, ".."), { recursive: true });
const conversation = existsSync(store) ? JSON.parse(readFileSync(store, "utf8")) : { prompts: [] };

const out = (msg) => process.stdout.write(JSON.stringify(msg) + "\n");
let initSent = false;
let turn = null; // { interrupted, resolve }
const pendingPermissions = new Map(); // request_id → resolve
let counter = 0;

const delta = (text) => out({ type: "stream_event", uuid: randomUUID(), session_id: sessionId, parent_tool_use_id: null,
  event: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } } });

function result(subtype, extra = {}) {
  out({ type: "result", subtype, is_error: subtype !== "success", duration_ms: 5, num_turns: 1, session_id: sessionId,
    total_cost_usd: 0.0012, usage: { input_tokens: 11, output_tokens: 7, cache_read_input_tokens: 3 }, ...extra });
}

// Like the real CLI: tool permission prompts go to stdin/stdout only with --permission-prompt-tool stdio; without it, a
// tool that needs permission is denied.
const promptsOverStdio = flag("--permission-prompt-tool") === "stdio";

function askPermission(toolName, input, toolUseId) {
  if (!promptsOverStdio) return Promise.resolve({ behavior: "deny", message: "permission denied: no --permission-prompt-tool" });
  const requestId = `perm_${++counter}`;
  out({ type: "control_request", request_id: requestId, request: { subtype: "can_use_tool", tool_name: toolName, input, tool_use_id: toolUseId } });
  return new Promise((resolve) => pendingPermissions.set(requestId, resolve));
}

let askReply = null;
async function runTurn(queued) {
  askReply = null;
  const [prompt, images] = queued.split("\u0000");
  conversation.prompts.push(prompt);
  writeFileSync(store, JSON.stringify(conversation));
  const state = { interrupted: false };
  turn = state;
  out({ type: "stream_event", session_id: sessionId, event: { type: "message_start", message: { id: "msg_" + counter, role: "assistant" } } });
  out({ type: "stream_event", session_id: sessionId, event: { type: "content_block_delta", index: 0, delta: { type: "thinking_delta", thinking: "Thinking about it." } } });

  if (prompt.includes("[malformed]")) process.stdout.write("this is not json {\n");
  if (prompt.includes("[crash]")) {
    delta("Starting");
    process.stderr.write("fatal: simulated crash\n");
    setTimeout(() => process.exit(3), 10);
    return;
  }
  if (prompt.includes("[exit-on-permission]")) {
    out({ type: "control_request", request_id: "perm_exit", request: { subtype: "can_use_tool", tool_name: "Bash", input: { command: "rm -rf /tmp/x" } } });
    process.stderr.write("fatal: gave up waiting\n");
    setTimeout(() => process.exit(4), 10);
    return;
  }
  const flood = /\[flood (\d+)\]/.exec(prompt);
  if (flood) for (let i = 0; i < Number(flood[1]); i++) delta(`chunk ${i} `);
  if (prompt.includes("[fail]")) {
    result("error_during_execution", { errors: ["simulated failure"] });
    turn = null;
    return;
  }
  for (const match of prompt.matchAll(/\[tool ([^\]]+)\]/g)) {
    const command = match[1];
    const toolUseId = `toolu_${++counter}`;
    out({ type: "assistant", session_id: sessionId, parent_tool_use_id: null,
      message: { id: "msg_" + counter, role: "assistant", content: [{ type: "tool_use", id: toolUseId, name: "Bash", input: { command } }] } });
    let answer = { behavior: "allow", updatedInput: { command } };
    if (mode !== "bypassPermissions") answer = await askPermission("Bash", { command }, toolUseId);
    if (state.interrupted) return;
    if (answer.behavior === "allow") {
      const ran = answer.updatedInput?.command ?? command;
      out({ type: "user", session_id: sessionId, message: { role: "user", content: [{ type: "tool_result", tool_use_id: toolUseId, content: `ran: ${ran}`, is_error: false }] } });
    } else {
      out({ type: "user", session_id: sessionId, message: { role: "user", content: [{ type: "tool_result", tool_use_id: toolUseId, content: answer.message ?? "denied", is_error: true }] } });
      if (answer.interrupt) {
        result("error_during_execution", { errors: ["interrupted by the permission answer"] });
        turn = null;
        return;
      }
    }
  }
  if (prompt.includes("[stop-reading]")) {
    rl.pause();
    process.stdin.pause();
    setInterval(() => {}, 1 << 30); // a paused stdin does not keep node alive: this does
    await new Promise(() => {});
  }
  if (prompt.includes("[long-stderr]")) process.stderr.write("E".repeat(20000) + "\n");
  if (prompt.includes("[ask]")) {
    const questions = [{ question: "Which color?", header: "Color", multiSelect: false, options: [{ label: "red", description: "warm" }, { label: "blue", description: "cold" }] }];
    const answer = await askPermission("AskUserQuestion", { questions }, `toolu_${++counter}`);
    if (state.interrupted) return;
    // Like the tool: it needs its questions back with the answers (an input without them is invalid).
    askReply = answer.behavior !== "allow" ? "Question declined"
      : Array.isArray(answer.updatedInput?.questions) ? `Answered: ${JSON.stringify(answer.updatedInput.answers)}` : "Invalid AskUserQuestion input: questions missing";
  }
  let planDecision = null;
  if (prompt.includes("[plan-exit]")) {
    planDecision = (await askPermission("ExitPlanMode", { plan: "1. Read the code\n2. Fix the bug" }, `toolu_${++counter}`)).behavior;
    if (state.interrupted) return;
  }
  if (prompt.includes("[compact]")) {
    out({ type: "system", subtype: "status", status: "compacting", session_id: sessionId, uuid: randomUUID() });
    out({ type: "system", subtype: "compact_boundary", session_id: sessionId, uuid: randomUUID(), compact_metadata: { trigger: "auto", pre_tokens: 154321 } });
  }
  if (prompt.includes("[subagent]")) {
    const taskId = `toolu_${++counter}`;
    out({ type: "assistant", session_id: sessionId, parent_tool_use_id: null, message: { id: "msg_" + counter, role: "assistant",
      content: [{ type: "tool_use", id: taskId, name: "Task", input: { description: "Find the config", subagent_type: "Explore", prompt: "find it" } }] } });
    const grepId = `toolu_${++counter}`;
    out({ type: "stream_event", session_id: sessionId, parent_tool_use_id: taskId, event: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "SIDECHAIN DELTA" } } });
    out({ type: "assistant", session_id: sessionId, parent_tool_use_id: taskId, message: { role: "assistant",
      content: [{ type: "text", text: "Looking for the config." }, { type: "tool_use", id: grepId, name: "Grep", input: { pattern: "paseo.hocon" } }] } });
    out({ type: "user", session_id: sessionId, parent_tool_use_id: taskId, message: { role: "user", content: [{ type: "tool_result", tool_use_id: grepId, content: "src/paseo.hocon", is_error: false }] } });
    out({ type: "user", session_id: sessionId, parent_tool_use_id: null, message: { role: "user", content: [{ type: "tool_result", tool_use_id: taskId, content: [{ type: "text", text: "It is src/paseo.hocon" }], is_error: false }] } });
  }
  if (prompt.includes("[hang]") || prompt.includes("[deaf]")) {
    state.deaf = prompt.includes("[deaf]");
    await new Promise((resolve) => (state.resolve = resolve));
    return;
  }
  const reply = askReply ? askReply
    : prompt.includes("[images]") ? `Images: ${images ?? "none"}`
    : planDecision ? `Plan ${planDecision === "allow" ? "approved" : "rejected"}`
    : prompt.includes("[remember]") ? `First prompt: ${conversation.prompts[0]}`
    : prompt.includes("[flags]") ? `thinking=${flag("--thinking") ?? "none"} effort=${flag("--effort") ?? "none"} checkpointing=${process.env.CLAUDE_CODE_ENABLE_SDK_FILE_CHECKPOINTING ?? "unset"} model=${flag("--model") ?? "default"} first=${conversation.prompts[0]}`
    : `Fake claude reply to: ${prompt}`;
  for (const piece of reply.match(/.{1,8}/gs) ?? []) delta(piece);
  out({ type: "assistant", session_id: sessionId, parent_tool_use_id: null, message: { role: "assistant", content: [{ type: "text", text: reply }] } });
  result("success", { result: reply });
  turn = null;
}

const queue = [];
let running = false;
async function drain() {
  if (running) return;
  running = true;
  while (queue.length) await runTurn(queue.shift());
  running = false;
}

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const msg = JSON.parse(line);
  if (msg.type === "control_request") {
    const req = msg.request ?? {};
    if (req.subtype === "initialize") return out({ type: "control_response", response: { subtype: "success", request_id: msg.request_id, response: { commands: [] } } });
    if (req.subtype === "set_permission_mode") {
      if (req.mode === "bypassPermissions" && !bypassAllowed)
        return out({ type: "control_response", response: { subtype: "error", request_id: msg.request_id,
          error: "Cannot set permission mode to bypassPermissions because the session was not launched with --dangerously-skip-permissions", error_code: "bypass_not_launched" } });
      mode = req.mode;
      return out({ type: "control_response", response: { subtype: "success", request_id: msg.request_id, response: {} } });
    }
    if (req.subtype === "interrupt") {
      out({ type: "control_response", response: { subtype: "success", request_id: msg.request_id, response: {} } });
      if (turn && !turn.deaf) {
        turn.interrupted = true;
        for (const [id, resolve] of pendingPermissions) { pendingPermissions.delete(id); resolve({ behavior: "deny" }); }
        turn.resolve?.();
        turn = null;
        result("error_during_execution", { errors: ["interrupted"] });
      }
      return;
    }
    return out({ type: "control_response", response: { subtype: "error", request_id: msg.request_id, error: "unknown subtype" } });
  }
  if (msg.type === "control_response") {
    const resolve = pendingPermissions.get(msg.response?.request_id);
    if (resolve) { pendingPermissions.delete(msg.response.request_id); resolve(msg.response.response); }
    return;
  }
  if (msg.type === "user") {
    if (!initSent) {
      initSent = true;
      out({ type: "system", subtype: "init", session_id: sessionId, cwd: process.cwd(), model: flag("--model") ?? "sonnet", tools: ["Bash"], permissionMode: mode });
    }
    const content = msg.message?.content ?? [];
    const text = content.filter((c) => c.type === "text").map((c) => c.text).join("");
    // Image blocks as the API takes them: {type:"image", source:{type:"base64", media_type, data}}.
    const images = content.filter((c) => c.type === "image")
      .map((c) => (c.source?.type === "base64" && c.source.media_type && c.source.data ? `${c.source.media_type} ${Buffer.from(c.source.data, "base64").length} bytes` : `malformed ${JSON.stringify(c)}`));
    queue.push(images.length ? `${text}\u0000${images.join(", ")}` : text);
    drain();
  }
});
rl.on("close", () => process.exit(0));
// FAKE_CLAUDE_IGNORE_SIGTERM (env): a CLI that ignores SIGTERM, so only the daemon's SIGKILL after kill-grace ends it.
process.on("SIGTERM", () => { if (!process.env.FAKE_CLAUDE_IGNORE_SIGTERM) process.exit(143); });
