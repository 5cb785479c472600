#!/usr/bin/env node
// A stand-in for an OpenAI-compatible Chat Completions API (POST /v1/chat/completions, streamed), on loopback, so the
// REAL OpenCode server (`opencode serve`, tests/realcli) runs whole turns in tests: OpenCode is real, only the model
// behind it is replaced (a custom provider in the project's opencode.json points here). The newest user text is the
// script:
//   [tool CMD]   a bash tool call for CMD; the request carrying its result is answered "Tool result: <output>"
//   [ask]        a question tool call ("Which color?": red or blue); answered "Tool result: <answer>"
//   [todo]       a todowrite tool call with two tasks
//   [hang]       starts the answer and never finishes it (until OpenCode hangs up: an abort)
//   [remember]   "First prompt: <the first user text of the conversation>" (shows a resumed session)
//   anything else: "Echo: <text>"
// OpenCode's own title requests get a title. Prints "listening on PORT" when ready.
import { createServer } from "node:http";

let counter = 0;
const text = (content) => (typeof content === "string" ? content : (content ?? []).filter((c) => c.type === "text").map((c) => c.text).join(""));

function answer(body) {
  const messages = body.messages ?? [];
  if (text(messages[0]?.content).startsWith("You are a title generator")) return { text: "A test session" };
  const last = messages[messages.length - 1] ?? {};
  if (last.role === "tool") return { text: `Tool result: ${text(last.content).trim()}` };
  const users = messages.filter((m) => m.role === "user").map((m) => text(m.content));
  const said = users.at(-1) ?? "";
  const tool = /\[tool ([^\]]+)\]/.exec(said);
  if (tool) return { call: { name: "bash", arguments: { command: tool[1], description: "Run the command" } } };
  if (said.includes("[ask]")) return { call: { name: "question", arguments: { questions: [{ question: "Which color?", header: "Color",
    options: [{ label: "red", description: "warm" }, { label: "blue", description: "cold" }] }] } } };
  if (said.includes("[todo]")) return { call: { name: "todowrite", arguments: { todos: [
    { content: "read the code", status: "completed", priority: "high" }, { content: "fix the bug", status: "in_progress", priority: "high" }] } } };
  if (said.includes("[hang]")) return { hang: true };
  if (said.includes("[remember]")) return { text: `First prompt: ${users[0]}` };
  return { text: `Echo: ${said}` };
}

createServer((req, res) => {
  let raw = "";
  req.on("data", (c) => (raw += c));
  req.on("end", () => {
    if (req.method !== "POST" || !req.url.endsWith("/chat/completions")) { res.writeHead(404, { "content-type": "application/json" }); res.end("{}"); return; }
    const body = JSON.parse(raw || "{}");
    const reply = answer(body);
    const id = `chatcmpl-fake-${++counter}`;
    const chunk = (delta, finish = null, extra = {}) =>
      res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 1, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`);
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    chunk({ role: "assistant", content: "" });
    if (reply.hang) return; // OpenCode hangs up when the session is aborted
    if (reply.call) {
      chunk({ tool_calls: [{ index: 0, id: `call_fake_${counter}`, type: "function", function: { name: reply.call.name, arguments: JSON.stringify(reply.call.arguments) } }] });
      chunk({}, "tool_calls");
    } else {
      for (const piece of reply.text.match(/.{1,12}/gs) ?? []) chunk({ content: piece });
      chunk({}, "stop");
    }
    res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created: 1, model: body.model, choices: [], usage: { prompt_tokens: 30, completion_tokens: 9, total_tokens: 39 } })}\n\n`);
    res.write("data: [DONE]\n\n");
    res.end();
  });
}).listen(0, "127.0.0.1", function () { console.log(`listening on ${this.address().port}`); });
process.on("SIGTERM", () => process.exit(0));
