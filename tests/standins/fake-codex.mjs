#!/usr/bin/env node
// A stand-in for `codex app-server` (JSON-RPC over stdio without a "jsonrpc" field; ../../../shared/spec/providers.md
// §4.2), for tests: initialize + initialized, thread/start, thread/resume, turn/start, turn/interrupt; notifications
// turn/started, item/started, item/agentMessage/delta, item/reasoning/summaryTextDelta, item/completed,
// thread/tokenUsage/updated, turn/plan/updated, turn/completed; approvals item/commandExecution/requestApproval and
// item/fileChange/requestApproval answered accept | decline | cancel; item/tool/requestUserInput answered
// {answers:{<question id>:{answers:[...]}}}. approvalPolicy "never" (full-access) runs commands without asking. The
// prompt is the script, as for fake-claude.mjs: [tool CMD] [edit PATH] [question] [plan] [think] (a reasoning item that
// arrives whole) [images] (replies with the images of the input) [settings] (replies with the sandbox and effort it was given) [hang] [deaf] [crash]
// [exit-on-permission] [malformed] [flood N] [fail] [remember]
// FAKE_CODEX_LOG (env): a file to append one JSON line per start: {pid, argv, agentId, cwd}.
import { appendFileSync, readFileSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { join } from "node:path";
import { tmpdir } from "node:os";

const argv = process.argv.slice(2);
if (argv.includes("--version")) { console.log("codex-cli 0.50.0 (fake)"); process.exit(0); }
if (argv[0] !== "app-server") { process.stderr.write("usage: codex app-server\n"); process.exit(2); }
if (process.env.FAKE_CODEX_LOG) {
  appendFileSync(process.env.FAKE_CODEX_LOG, JSON.stringify({ pid: process.pid, argv, agentId: process.env.PASEO_AGENT_ID ?? null, cwd: process.cwd() }) + "\n");
}
const storeDir = process.env.FAKE_CODEX_STORE ?? join(tmpdir(), "fake-codex");
mkdirSync(storeDir, { recursive: true });

const send = (msg) => process.stdout.write(JSON.stringify(msg) + "\n");
const notify = (method, params) => send({ method, params });
let nextId = 5000;
const waiting = new Map();
const request = (method, params) => new Promise((resolve) => { const id = ++nextId; waiting.set(id, resolve); send({ id, method, params }); });

let initialized = false;
let thread = null; // { id, prompts }
let turn = null;

async function runTurn(params) {
  const text = params.input.filter((i) => i.type === "text").map((i) => i.text).join("");
  // Images as {type:"image", url:"data:<mime>;base64,<data>"}.
  const images = params.input.filter((i) => i.type !== "text").map((i) => {
    const m = i.type === "image" && /^data:([^;]+);base64,(.*)$/.exec(i.url ?? "");
    return m ? `${m[1]} ${Buffer.from(m[2], "base64").length} bytes` : `malformed ${JSON.stringify(i).slice(0, 80)}`;
  });
  thread.prompts.push(text);
  writeFileSync(join(storeDir, thread.id), JSON.stringify({ prompts: thread.prompts }));
  const t = { id: "turn_" + ++nextId, interrupted: false, deaf: false };
  turn = t;
  const finish = (status, error) => { if (turn === t) { turn = null; notify("turn/completed", { threadId: thread.id, turn: { id: t.id, status, ...(error ? { error: { message: error } } : {}) } }); } };
  t.finish = finish;
  notify("turn/started", { threadId: thread.id, turn: { id: t.id } });
  notify("item/reasoning/summaryTextDelta", { threadId: thread.id, turnId: t.id, itemId: "rs_" + t.id, delta: "Planning." });
  if (text.includes("[malformed]")) process.stdout.write("<<not json>>\n");
  if (text.includes("[crash]")) { process.stderr.write("thread 'main' panicked: simulated crash\n"); setTimeout(() => process.exit(3), 10); return t.id; }
  if (text.includes("[exit-on-permission]")) {
    send({ id: ++nextId, method: "item/commandExecution/requestApproval", params: { threadId: thread.id, turnId: t.id, itemId: "cmd_x", command: "rm -rf /" } });
    process.stderr.write("thread 'main' panicked: gave up\n");
    setTimeout(() => process.exit(4), 10);
    return t.id;
  }
  setImmediate(async () => {
    const msgId = "msg_" + t.id;
    const flood = /\[flood (\d+)\]/.exec(text);
    if (flood) for (let i = 0; i < Number(flood[1]); i++) notify("item/agentMessage/delta", { threadId: thread.id, turnId: t.id, itemId: msgId, delta: `chunk ${i} ` });
    if (text.includes("[fail]")) return finish("failed", "simulated failure");
    for (const match of text.matchAll(/\[tool ([^\]]+)\]/g)) {
      const item = { type: "commandExecution", id: "cmd_" + ++nextId, command: match[1], cwd: process.cwd(), status: "inProgress" };
      notify("item/started", { threadId: thread.id, turnId: t.id, item });
      let decision = "accept";
      if (params.approvalPolicy !== "never") decision = (await request("item/commandExecution/requestApproval", { threadId: thread.id, turnId: t.id, itemId: item.id, command: match[1], cwd: process.cwd(), reason: "needs approval" })).result?.decision;
      if (t.interrupted) return;
      if (decision === "cancel") return finish("interrupted");
      notify("item/completed", { threadId: thread.id, turnId: t.id, item: decision === "accept"
        ? { ...item, status: "completed", aggregatedOutput: `ran: ${match[1]}`, exitCode: 0 }
        : { ...item, status: "declined" } });
    }
    for (const match of text.matchAll(/\[edit ([^\]]+)\]/g)) {
      const item = { type: "fileChange", id: "fc_" + ++nextId, changes: [{ path: match[1], kind: "add", diff: "+hello\n" }], status: "inProgress" };
      notify("item/started", { threadId: thread.id, turnId: t.id, item });
      let decision = "accept";
      if (params.approvalPolicy !== "never") decision = (await request("item/fileChange/requestApproval", { threadId: thread.id, turnId: t.id, itemId: item.id, reason: "writes a file" })).result?.decision;
      if (t.interrupted) return;
      if (decision === "cancel") return finish("interrupted");
      notify("item/completed", { threadId: thread.id, turnId: t.id, item: { ...item, status: decision === "accept" ? "completed" : "declined" } });
    }
    if (text.includes("[plan]")) notify("turn/plan/updated", { threadId: thread.id, turnId: t.id, explanation: null, plan: [{ step: "read the code", status: "completed" }, { step: "fix the bug", status: "inProgress" }] });
    if (text.includes("[think]")) notify("item/completed", { threadId: thread.id, turnId: t.id, item: { type: "reasoning", id: "rs_whole_" + t.id, summary: ["Thought it through."], content: [] } });
    let answers = null;
    if (text.includes("[question]")) {
      const questions = [{ id: "color", header: "Color", question: "Which color?", options: [{ label: "red", description: "warm" }, { label: "blue", description: "cold" }] }];
      const answer = await request("item/tool/requestUserInput", { threadId: thread.id, turnId: t.id, itemId: "q_" + t.id, questions });
      if (t.interrupted) return;
      const given = answer.result?.answers;
      if (typeof given !== "object" || given === null || Object.values(given).some((a) => !Array.isArray(a?.answers))) return finish("failed", `bad requestUserInput answer: ${JSON.stringify(answer)}`);
      answers = given;
    }
    if (text.includes("[hang]") || text.includes("[deaf]")) { t.deaf = text.includes("[deaf]"); return; }
    const reply = text.includes("[images]") ? `Images: ${images.join(", ") || "none"}`
      : answers ? `Answers: ${JSON.stringify(answers)}`
      : text.includes("[settings]") ? `Sandbox: ${params.sandboxPolicy?.type}, effort: ${params.effort ?? "default"}`
      : text.includes("[remember]") ? `First prompt: ${thread.prompts[0]}` : `Fake codex reply to: ${text}`;
    notify("item/started", { threadId: thread.id, turnId: t.id, item: { type: "agentMessage", id: msgId, text: "" } });
    for (const piece of reply.match(/.{1,8}/gs) ?? []) notify("item/agentMessage/delta", { threadId: thread.id, turnId: t.id, itemId: msgId, delta: piece });
    notify("item/completed", { threadId: thread.id, turnId: t.id, item: { type: "agentMessage", id: msgId, text: reply } });
    notify("thread/tokenUsage/updated", { threadId: thread.id, tokenUsage: { last: { inputTokens: 21, cachedInputTokens: 4, outputTokens: 9 } } });
    finish("completed");
  });
  return t.id;
}

const rl = createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  if (!line.trim()) return;
  const msg = JSON.parse(line);
  if (msg.jsonrpc !== undefined) { process.stderr.write("codex app-server messages carry no jsonrpc field\n"); process.exit(5); }
  if (msg.id !== undefined && msg.method === undefined) { const resolve = waiting.get(msg.id); waiting.delete(msg.id); resolve?.(msg); return; }
  const p = msg.params ?? {};
  switch (msg.method) {
    case "initialize": return send({ id: msg.id, result: { userAgent: "fake-codex/0.50.0" } });
    case "initialized": initialized = true; return;
    case "model/list":
      return send({ id: msg.id, result: { data: [
        { id: "fake-large", model: "fake-large", displayName: "Fake Large", description: "The big one", hidden: false, isDefault: true },
        { id: "fake-internal", model: "fake-internal", displayName: "Internal", hidden: true, isDefault: false },
        { id: "fake-small", model: "fake-small", displayName: "Fake Small", hidden: false, isDefault: false }] } });
    case "thread/start":
      if (!initialized) return send({ id: msg.id, error: { code: -32600, message: "not initialized" } });
      // FAKE_MCP_LOG (env): what the daemon gave it of its MCP server (thread/start config.mcp_servers).
      if (process.env.FAKE_MCP_LOG && p.config?.mcp_servers)
        appendFileSync(process.env.FAKE_MCP_LOG, JSON.stringify({ provider: "codex", agentId: process.env.PASEO_AGENT_ID ?? null, mcpServers: p.config.mcp_servers }) + "\n");
      thread = { id: randomUUID(), prompts: [] };
      send({ id: msg.id, result: { thread: { id: thread.id } } });
      return notify("thread/started", { thread: { id: thread.id } });
    case "thread/resume": {
      const file = join(storeDir, p.threadId);
      if (!existsSync(file)) return send({ id: msg.id, error: { code: -32602, message: `no thread ${p.threadId}` } });
      thread = { id: p.threadId, ...JSON.parse(readFileSync(file, "utf8")) };
      return send({ id: msg.id, result: { thread: { id: thread.id } } });
    }
    case "turn/start": {
      const id = await runTurn(p);
      return send({ id: msg.id, result: { turn: { id } } });
    }
    case "turn/interrupt":
      send({ id: msg.id, result: {} });
      if (turn && !turn.deaf) {
        turn.interrupted = true;
        for (const [id, resolve] of waiting) { waiting.delete(id); resolve({ result: { decision: "cancel" } }); }
        turn.finish("interrupted");
      }
      return;
    default:
      if (msg.id !== undefined) send({ id: msg.id, error: { code: -32601, message: "method not found" } });
  }
});
rl.on("close", () => process.exit(0));
process.on("SIGTERM", () => process.exit(143));
