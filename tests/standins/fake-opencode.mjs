#!/usr/bin/env node
// A stand-in for `opencode serve` (HTTP + server-sent events; ../../../shared/spec/providers.md §4.3), for tests:
// POST /session, GET /session/:id, POST /session/:id/prompt_async {parts, agent, model?}, POST /session/:id/abort,
// POST /permission/:id/reply {reply: once|always|reject, message?}, POST /question/:id/reply {answers: string[][]},
// POST /question/:id/reject, GET /config/providers (its models), GET /event (SSE). Every request carries ?directory=: like the real server, the event feed
// of a directory only carries the events of sessions created in that directory. Events: server.connected,
// message.updated, message.part.updated (text, reasoning, tool parts), message.part.delta, permission.asked,
// question.asked, todo.updated, session.compacted, session.error, session.idle.
// Sessions are kept on disk (FAKE_OPENCODE_STORE), so a restarted server still knows them. The prompt is the script:
//   [tool CMD] [hang] [deaf] [crash] (the whole server exits 3) [exit-on-permission] (asks, then the server exits 4)
//   [malformed] (a data line that is not JSON) [flood N] [huge N] (one delta event of N bytes)
//   [fail] [remember] [agent] (replies with the agent it was given: build or plan) [where] (replies with the directory)
//   [drop-feed] (ends the directory's event streams, the server stays up) [images] (replies with the file parts) [question] (asks "Which color?", replies with the answers) [todo] (a task list) [compact] (a compaction)
// FAKE_OPENCODE_LOG (env): a file to append one JSON line per start: {pid, argv}.
// FAKE_OPENCODE_ABORTS (env): a file to append one JSON line per abort request: {sessionID, running}.
import { createServer } from "node:http";
import { appendFileSync, readFileSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { tmpdir } from "node:os";

const argv = process.argv.slice(2);
if (argv.includes("--version")) { console.log("1.2.6 (fake)"); process.exit(0); }
if (argv[0] !== "serve") { process.stderr.write("usage: opencode serve --port N\n"); process.exit(2); }
const port = Number(argv[argv.indexOf("--port") + 1]);
if (process.env.FAKE_OPENCODE_LOG) appendFileSync(process.env.FAKE_OPENCODE_LOG, JSON.stringify({ pid: process.pid, argv }) + "\n");
const storeDir = process.env.FAKE_OPENCODE_STORE ?? join(tmpdir(), "fake-opencode");
mkdirSync(storeDir, { recursive: true });

const listeners = new Map(); // response → directory
const sessions = new Map();
const directoryOf = (properties) => sessions.get(properties.sessionID ?? properties.part?.sessionID ?? properties.info?.sessionID)?.directory;
const emit = (type, properties) => {
  const line = `data: ${JSON.stringify({ type, properties })}\n\n`;
  const directory = directoryOf(properties);
  for (const [res, dir] of listeners) if (dir === directory) res.write(line);
};
// A session is only found through the directory it was created in (the server keeps sessions per project).
const session = (id, directory) => {
  if (!sessions.has(id) && existsSync(join(storeDir, id))) sessions.set(id, { id, ...JSON.parse(readFileSync(join(storeDir, id), "utf8")), turn: null });
  const s = sessions.get(id);
  return s && s.directory === directory ? s : undefined;
};
const permissions = new Map(); // id → resolve
const questions = new Map(); // id → resolve
let counter = 0;

async function runTurn(s, body) {
  const text = body.parts.filter((p) => p.type === "text").map((p) => p.text).join("");
  // Images as file parts {type:"file", mime, filename, url:"data:<mime>;base64,<data>"}.
  const images = body.parts.filter((p) => p.type !== "text").map((p) => {
    const m = p.type === "file" && p.filename && /^data:([^;]+);base64,(.*)$/.exec(p.url ?? "");
    return m && m[1] === p.mime ? `${p.mime} ${Buffer.from(m[2], "base64").length} bytes` : `malformed ${JSON.stringify(p).slice(0, 80)}`;
  });
  s.prompts.push(text);
  writeFileSync(join(storeDir, s.id), JSON.stringify({ prompts: s.prompts, directory: s.directory }));
  const turn = { aborted: false, deaf: false };
  s.turn = turn;
  const sessionID = s.id;
  const messageID = "msg_" + ++counter;
  const end = (error) => {
    if (s.turn !== turn) return;
    s.turn = null;
    if (error) emit("session.error", { sessionID, error });
    emit("session.idle", { sessionID });
  };
  turn.end = end;
  emit("message.updated", { info: { id: messageID, sessionID, role: "assistant" } });
  const reasoningID = "prt_" + ++counter;
  emit("message.part.updated", { part: { id: reasoningID, sessionID, messageID, type: "reasoning", text: "" } });
  emit("message.part.delta", { sessionID, messageID, partID: reasoningID, field: "text", delta: "Looking around." });
  if (text.includes("[malformed]")) for (const res of listeners.keys()) res.write("data: {{{ not json\n\n");
  if (text.includes("[todo]")) emit("todo.updated", { sessionID, todos: [{ id: "1", content: "read the code", status: "completed", priority: "high" }, { id: "2", content: "fix the bug", status: "in_progress", priority: "high" }] });
  if (text.includes("[compact]")) emit("session.compacted", { sessionID });
  if (text.includes("[drop-feed]")) {
    // The server stays up but ends this directory's event streams: the turn can never be seen to end.
    for (const [res, dir] of listeners) if (dir === s.directory) { listeners.delete(res); res.end(); }
    return;
  }
  if (text.includes("[crash]")) { process.stderr.write("opencode: fatal: simulated crash\n"); setTimeout(() => process.exit(3), 10); return; }
  if (text.includes("[exit-on-permission]")) {
    emit("permission.asked", { id: "per_exit", sessionID, permission: "bash", patterns: ["rm -rf /"], metadata: { command: "rm -rf /" } });
    process.stderr.write("opencode: fatal: gave up\n");
    setTimeout(() => process.exit(4), 50);
    return;
  }
  const textID = "prt_" + ++counter;
  emit("message.part.updated", { part: { id: textID, sessionID, messageID, type: "text", text: "", time: { start: Date.now() } } });
  const flood = /\[flood (\d+)\]/.exec(text);
  if (flood) for (let i = 0; i < Number(flood[1]); i++) emit("message.part.delta", { sessionID, messageID, partID: textID, field: "text", delta: `chunk ${i} ` });
  const huge = /\[huge (\d+)\]/.exec(text);
  if (huge) emit("message.part.delta", { sessionID, messageID, partID: textID, field: "text", delta: "x".repeat(Number(huge[1])) });
  if (text.includes("[fail]")) return end({ name: "UnknownError", data: { message: "simulated failure" } });
  for (const match of text.matchAll(/\[tool ([^\]]+)\]/g)) {
    const callID = "call_" + ++counter;
    const partID = "prt_" + ++counter;
    const input = { command: match[1] };
    emit("message.part.updated", { part: { id: partID, sessionID, messageID, type: "tool", callID, tool: "bash", state: { status: "pending", input } } });
    const permissionID = "per_" + ++counter;
    const reply = await new Promise((resolve) => {
      permissions.set(permissionID, resolve);
      emit("permission.asked", { id: permissionID, sessionID, permission: "bash", patterns: [match[1]], metadata: { command: match[1] }, tool: { messageID, callID } });
    });
    if (turn.aborted) return;
    emit("message.part.updated", { part: { id: partID, sessionID, messageID, type: "tool", callID, tool: "bash", state: reply.reply === "reject"
      ? { status: "error", input, error: reply.message ?? "The user rejected permission to use this specific tool call." }
      : { status: "completed", input, output: `ran: ${match[1]}` } } });
  }
  let answered = null;
  if (text.includes("[question]")) {
    const questionID = "que_" + ++counter;
    answered = await new Promise((resolve) => {
      questions.set(questionID, resolve);
      emit("question.asked", { id: questionID, sessionID, questions: [{ question: "Which color?", header: "Color", options: [{ label: "red", description: "warm" }, { label: "blue", description: "cold" }] }] });
    });
    if (turn.aborted) return;
  }
  if (text.includes("[hang]") || text.includes("[deaf]")) { turn.deaf = text.includes("[deaf]"); return; }
  const reply = answered ? (answered.rejected ? "Question rejected" : `Answers: ${JSON.stringify(answered.answers)}`)
    : text.includes("[remember]") ? `First prompt: ${s.prompts[0]}` : text.includes("[agent]") ? `Agent: ${body.agent}`
    : text.includes("[where]") ? `Directory: ${s.directory}` : text.includes("[images]") ? `Images: ${images.join(", ") || "none"}`
    : `Fake opencode reply to: ${text}`;
  for (const piece of reply.match(/.{1,8}/gs) ?? []) emit("message.part.delta", { sessionID, messageID, partID: textID, field: "text", delta: piece });
  emit("message.part.updated", { part: { id: textID, sessionID, messageID, type: "text", text: reply, time: { start: 0, end: Date.now() } } });
  emit("message.updated", { info: { id: messageID, sessionID, role: "assistant", cost: 0.002, tokens: { input: 30, output: 12, cache: { read: 5, write: 0 } } } });
  end();
}

const readBody = (req) => new Promise((resolve) => { let data = ""; req.on("data", (c) => (data += c)); req.on("end", () => resolve(data ? JSON.parse(data) : {})); });
const json = (res, status, body) => { res.writeHead(status, { "content-type": "application/json" }); res.end(body === undefined ? "" : JSON.stringify(body)); };

createServer(async (req, res) => {
  const url = new URL(req.url, "http://localhost");
  const parts = url.pathname.split("/").filter(Boolean);
  const directory = url.searchParams.get("directory");
  if (!directory) return json(res, 400, { error: "directory is required" });
  if (req.method === "GET" && url.pathname === "/config/providers") {
    return json(res, 200, { providers: [{ id: "fake", name: "Fake Provider", models: { small: { id: "small", name: "Small" }, large: { id: "large", name: "Large" } } }], default: { fake: "small" } });
  }
  if (req.method === "GET" && url.pathname === "/event") {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write(`data: ${JSON.stringify({ type: "server.connected", properties: {} })}\n\n`);
    listeners.set(res, directory);
    req.on("close", () => listeners.delete(res));
    return;
  }
  // POST /mcp {name, config} and POST /mcp/:name/connect (FAKE_MCP_LOG, env: what the daemon gave it of its MCP server).
  if (req.method === "POST" && url.pathname === "/mcp") {
    const body = await readBody(req);
    if (process.env.FAKE_MCP_LOG) appendFileSync(process.env.FAKE_MCP_LOG, JSON.stringify({ provider: "opencode", directory: url.searchParams.get("directory"), add: body }) + "\n");
    res.writeHead(200, { "content-type": "application/json" }); res.end("{}"); return;
  }
  if (req.method === "POST" && parts[0] === "mcp" && parts[2] === "connect") {
    if (process.env.FAKE_MCP_LOG) appendFileSync(process.env.FAKE_MCP_LOG, JSON.stringify({ provider: "opencode", connect: parts[1] }) + "\n");
    res.writeHead(200, { "content-type": "application/json" }); res.end("true"); return;
  }
  if (req.method === "POST" && url.pathname === "/session") {
    const id = "ses_" + randomUUID().replaceAll("-", "");
    sessions.set(id, { id, prompts: [], turn: null, directory });
    writeFileSync(join(storeDir, id), JSON.stringify({ prompts: [], directory }));
    return json(res, 200, { id, directory });
  }
  if (parts[0] === "session" && parts.length === 2 && req.method === "GET") {
    const s = session(parts[1], directory);
    return s ? json(res, 200, { id: s.id }) : json(res, 404, { error: "not found" });
  }
  if (parts[0] === "session" && parts[2] === "prompt_async" && req.method === "POST") {
    const s = session(parts[1], directory);
    if (!s) return json(res, 404, { error: "not found" });
    const body = await readBody(req);
    json(res, 204);
    setImmediate(() => runTurn(s, body));
    return;
  }
  if (parts[0] === "session" && parts[2] === "abort" && req.method === "POST") {
    const s = session(parts[1], directory);
    if (process.env.FAKE_OPENCODE_ABORTS) appendFileSync(process.env.FAKE_OPENCODE_ABORTS, JSON.stringify({ sessionID: parts[1], running: !!s?.turn }) + "\n");
    if (s?.turn && !s.turn.deaf) {
      s.turn.aborted = true;
      for (const [id, resolve] of permissions) { permissions.delete(id); resolve({ reply: "reject" }); }
      for (const [id, resolve] of questions) { questions.delete(id); resolve({ rejected: true }); }
      s.turn.end({ name: "MessageAbortedError", data: { message: "The operation was aborted." } });
    }
    return json(res, 200, true);
  }
  if (parts[0] === "permission" && parts[2] === "reply" && req.method === "POST") {
    const body = await readBody(req);
    const resolve = permissions.get(parts[1]);
    if (!resolve) return json(res, 404, { error: "no such permission" });
    permissions.delete(parts[1]);
    resolve(body);
    return json(res, 200, true);
  }
  if (parts[0] === "question" && (parts[2] === "reply" || parts[2] === "reject") && req.method === "POST") {
    const body = await readBody(req);
    const resolve = questions.get(parts[1]);
    if (!resolve) return json(res, 404, { error: "no such question" });
    if (parts[2] === "reply" && !(Array.isArray(body.answers) && body.answers.every((a) => Array.isArray(a) && a.every((x) => typeof x === "string"))))
      return json(res, 400, { error: "answers must be string[][]" });
    questions.delete(parts[1]);
    resolve(parts[2] === "reply" ? { answers: body.answers } : { rejected: true });
    return json(res, 200, true);
  }
  json(res, 404, { error: "not found" });
}).listen(port, "127.0.0.1", () => console.log(`opencode server listening on http://127.0.0.1:${port}`));
process.on("SIGTERM", () => process.exit(143));
