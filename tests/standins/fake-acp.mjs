#!/usr/bin/env node
// A stand-in Agent Client Protocol agent (JSON-RPC 2.0 over stdio; ../../../shared/spec/providers.md §4.4), for tests:
// initialize, session/new, session/load (replays the conversation as session/update, as real agents do),
// session/prompt → session/update chunks and tool calls → {stopReason}, session/cancel, session/set_mode,
// session/request_permission (agent → client), fs/read_text_file and fs/write_text_file (agent → client). Modes: "ask"
// (default) and "yolo" (no permission prompts). The prompt is the script, as for fake-claude.mjs:
//   [tool CMD] [hang] [deaf] [crash] [exit-on-permission] [malformed] [flood N] [fail] [remember]
//   [write PATH] or [write PATH BYTES] (writes "written by the agent", or BYTES × "x") [read PATH] (replies with what it read)
//   [images] (replies with the image blocks of the prompt) [model] (replies with the session's model: fast or smart) [plan] (a plan update) [usage] (the prompt's answer carries usage) [unanswering] (from now on answers no
//   session/set_mode, and the turn hangs)
// On session/cancel it does what ACP asks of an agent: a permission request still pending must first be answered by
// the client with the "cancelled" outcome; only then is the prompt answered with stopReason "cancelled".
// FAKE_ACP_LOG (env): a file to append one JSON line per start: {pid, argv, agentId, cwd}.
import { appendFileSync, readFileSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { tmpdir } from "node:os";

if (process.env.FAKE_ACP_LOG) {
  appendFileSync(process.env.FAKE_ACP_LOG, JSON.stringify({ pid: process.pid, argv: process.argv.slice(2), agentId: process.env.PASEO_AGENT_ID ?? null, cwd: process.cwd() }) + "\n");
}
const storeDir = process.env.FAKE_ACP_STORE ?? join(tmpdir(), "fake-acp");
mkdirSync(storeDir, { recursive: true });

const send = (msg) => process.stdout.write(JSON.stringify({ jsonrpc: "2.0", ...msg }) + "\n");
let nextId = 1000;
const waiting = new Map(); // our request id → resolve
const request = (method, params) => new Promise((resolve) => { const id = ++nextId; waiting.set(id, resolve); send({ id, method, params }); });
const update = (sessionId, u) => send({ method: "session/update", params: { sessionId, update: u } });
const chunk = (sessionId, text) => update(sessionId, { sessionUpdate: "agent_message_chunk", content: { type: "text", text } });

const sessions = new Map(); // id → { mode, prompts, turn }
let unanswering = false;
const load = (id) => (existsSync(join(storeDir, id)) ? JSON.parse(readFileSync(join(storeDir, id), "utf8")) : { prompts: [] });
const save = (id, s) => writeFileSync(join(storeDir, id), JSON.stringify({ prompts: s.prompts }));
const models = (current) => ({ currentModelId: current, availableModels: [{ modelId: "fast", name: "Fast" }, { modelId: "smart", name: "Smart" }] });
const modes = (current) => ({ currentModeId: current, availableModes: [{ id: "ask", name: "Ask", description: "Asks first" }, { id: "yolo", name: "Yolo", description: "Never asks" }] });

async function prompt(id, params) {
  const s = sessions.get(params.sessionId);
  const text = params.prompt.filter((b) => b.type === "text").map((b) => b.text).join("");
  // Image blocks {type:"image", mimeType, data}; promptCapabilities.image is true unless FAKE_ACP_NO_IMAGES is set.
  const images = params.prompt.filter((b) => b.type !== "text").map((b) =>
    (b.type === "image" && b.mimeType && b.data ? `${b.mimeType} ${Buffer.from(b.data, "base64").length} bytes` : `malformed ${JSON.stringify(b).slice(0, 80)}`));
  s.prompts.push(text);
  save(params.sessionId, s);
  const turn = { cancelled: false };
  s.turn = turn;
  const usage = text.includes("[usage]") ? { usage: { inputTokens: 40, outputTokens: 7, cachedReadTokens: 3, totalTokens: 50 } } : {};
  const finish = (stopReason) => { if (s.turn === turn) { s.turn = null; send({ id, result: { stopReason, ...usage } }); } };
  turn.finish = finish;
  update(params.sessionId, { sessionUpdate: "agent_thought_chunk", content: { type: "text", text: "Considering." } });
  if (text.includes("[malformed]")) process.stdout.write("{ not json at all\n");
  if (text.includes("[crash]")) { chunk(params.sessionId, "Starting"); process.stderr.write("panic: simulated crash\n"); setTimeout(() => process.exit(3), 10); return; }
  if (text.includes("[exit-on-permission]")) {
    send({ id: ++nextId, method: "session/request_permission", params: { sessionId: params.sessionId, toolCall: { toolCallId: "tc_exit", title: "rm -rf /", kind: "execute" }, options: [{ optionId: "allow", name: "Allow", kind: "allow_once" }] } });
    process.stderr.write("panic: gave up\n");
    setTimeout(() => process.exit(4), 10);
    return;
  }
  const flood = /\[flood (\d+)\]/.exec(text);
  if (flood) for (let i = 0; i < Number(flood[1]); i++) chunk(params.sessionId, `chunk ${i} `);
  if (text.includes("[fail]")) return finish("refusal");
  if (text.includes("[unanswering]")) { unanswering = true; turn.deaf = true; return; }
  if (text.includes("[plan]")) update(params.sessionId, { sessionUpdate: "plan", entries: [{ content: "read the code", priority: "high", status: "completed" }, { content: "fix the bug", priority: "medium", status: "in_progress" }] });
  const write = /\[write (\S+?)(?: (\d+))?\]/.exec(text);
  if (write) {
    const content = write[2] ? "x".repeat(Number(write[2])) : "written by the agent";
    const answer = await request("fs/write_text_file", { sessionId: params.sessionId, path: write[1], content });
    chunk(params.sessionId, answer.error ? `write refused: ${answer.error.message} ` : "write ok ");
  }
  const read = /\[read (\S+?)\]/.exec(text);
  if (read) {
    const answer = await request("fs/read_text_file", { sessionId: params.sessionId, path: read[1] });
    chunk(params.sessionId, answer.error ? `read refused: ${answer.error.message} ` : `read: ${answer.result.content} `);
  }
  for (const match of text.matchAll(/\[tool ([^\]]+)\]/g)) {
    const toolCallId = `tc_${++nextId}`;
    const rawInput = { command: match[1] };
    update(params.sessionId, { sessionUpdate: "tool_call", toolCallId, title: match[1], kind: "execute", status: "pending", rawInput });
    let allowed = true;
    if (s.mode !== "yolo") {
      turn.pending = request("session/request_permission", { sessionId: params.sessionId, toolCall: { toolCallId, title: match[1], kind: "execute", rawInput },
        options: [{ optionId: "allow-once", name: "Allow", kind: "allow_once" }, { optionId: "reject-once", name: "Reject", kind: "reject_once" }] });
      const answer = await turn.pending;
      turn.pending = null;
      if (turn.cancelled) return;
      allowed = answer.result?.outcome?.outcome === "selected" && answer.result.outcome.optionId === "allow-once";
    }
    update(params.sessionId, allowed
      ? { sessionUpdate: "tool_call_update", toolCallId, status: "completed", content: [{ type: "content", content: { type: "text", text: `ran: ${match[1]}` } }] }
      : { sessionUpdate: "tool_call_update", toolCallId, status: "failed", content: [{ type: "content", content: { type: "text", text: "rejected by the user" } }] });
  }
  if (text.includes("[hang]") || text.includes("[deaf]")) { turn.deaf = text.includes("[deaf]"); return; }
  const reply = text.includes("[model]") ? `Model: ${s.model}`
    : text.includes("[images]") ? `Images: ${images.join(", ") || "none"}`
    : text.includes("[remember]") ? `First prompt: ${s.prompts[0]}` : `Fake ACP reply to: ${text}`;
  for (const piece of reply.match(/.{1,8}/gs) ?? []) chunk(params.sessionId, piece);
  finish("end_turn");
}

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  if (!line.trim()) return;
  const msg = JSON.parse(line);
  if (msg.id !== undefined && msg.method === undefined) { const resolve = waiting.get(msg.id); waiting.delete(msg.id); resolve?.(msg); return; }
  const p = msg.params ?? {};
  switch (msg.method) {
    case "initialize":
      return send({ id: msg.id, result: { protocolVersion: 1, agentCapabilities: { loadSession: true, promptCapabilities: { image: !process.env.FAKE_ACP_NO_IMAGES }, mcpCapabilities: { http: !process.env.FAKE_ACP_NO_HTTP_MCP, sse: false } }, authMethods: [] } });
    case "session/new": {
      // FAKE_MCP_LOG (env): what the daemon gave it of its MCP server (session/new mcpServers).
      if (process.env.FAKE_MCP_LOG && (p.mcpServers ?? []).length)
        appendFileSync(process.env.FAKE_MCP_LOG, JSON.stringify({ provider: "acp", agentId: process.env.PASEO_AGENT_ID ?? null, mcpServers: p.mcpServers }) + "\n");
      const id = randomUUID();
      sessions.set(id, { mode: "ask", model: "fast", prompts: [], turn: null });
      return send({ id: msg.id, result: { sessionId: id, modes: modes("ask"), models: models("fast") } });
    }
    case "session/load": {
      const s = { mode: "ask", ...load(p.sessionId), turn: null };
      sessions.set(p.sessionId, s);
      for (const old of s.prompts) update(p.sessionId, { sessionUpdate: "user_message_chunk", content: { type: "text", text: old } });
      s.model = "fast";
      return send({ id: msg.id, result: { modes: modes("ask"), models: models("fast") } });
    }
    case "session/prompt":
      return void prompt(msg.id, p);
    case "session/cancel": {
      const s = sessions.get(p.sessionId);
      if (s?.turn && !s.turn.deaf) {
        const turn = s.turn;
        turn.cancelled = true;
        if (!turn.pending) turn.finish("cancelled");
        else turn.pending.then((answer) => {
          if (answer.result?.outcome?.outcome !== "cancelled") process.stderr.write(`fake-acp: a canceled permission was answered ${JSON.stringify(answer)}\n`);
          turn.finish("cancelled");
        });
      }
      return;
    }
    case "session/set_model": {
      const s = sessions.get(p.sessionId);
      if (!["fast", "smart"].includes(p.modelId)) return send({ id: msg.id, error: { code: -32602, message: `unknown model ${p.modelId}` } });
      s.model = p.modelId;
      return send({ id: msg.id, result: {} });
    }
    case "session/set_mode": {
      if (unanswering) return;
      const s = sessions.get(p.sessionId);
      if (!["ask", "yolo"].includes(p.modeId)) return send({ id: msg.id, error: { code: -32602, message: `unknown mode ${p.modeId}` } });
      s.mode = p.modeId;
      update(p.sessionId, { sessionUpdate: "current_mode_update", currentModeId: p.modeId });
      return send({ id: msg.id, result: {} });
    }
    default:
      if (msg.id !== undefined) send({ id: msg.id, error: { code: -32601, message: "method not found" } });
  }
});
rl.on("close", () => process.exit(0));
process.on("SIGTERM", () => process.exit(143));
