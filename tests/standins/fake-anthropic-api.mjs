#!/usr/bin/env node
// A stand-in for Anthropic's Messages API (POST /v1/messages, streamed as server-sent events), on loopback, so the REAL
// Claude Code CLI (tests/realcli) can run whole turns in tests: the CLI is real, only the vendor's cloud is replaced.
// The last user message is the script:
//   [tool CMD]   answers with a Bash tool_use {command: CMD}; the next request (carrying the tool_result) is answered
//                "Tool result: <output>" or, for an error result, "Tool refused: <message>"
//   [ask]        an AskUserQuestion tool_use ("Which color?": red or blue)
//   [plan-exit]  an ExitPlanMode tool_use with a plan
//   [task]       a Task tool_use: the CLI runs a sub-agent (which asks this API with the prompt "look around")
//   [hang]       starts the answer and never finishes it (until the CLI hangs up: an interrupt)
//   [remember]   "First prompt: <the first user text of the conversation>" (shows a resumed session)
//   [mcp-tools]  "MCP tools: <the names of the mcp__paseo__* tools the CLI offered, sorted, comma-separated>"
//   [mcp TOOL JSON] a tool_use of mcp__paseo__TOOL with the JSON as its input (the daemon's MCP server, as the CLI reaches it)
//   anything else: "Echo: <text>"
// Prints "listening on PORT" when ready. FAKE_API_LOG (env): a file to append one JSON line per request {path, stream}.
import { createServer } from "node:http";
import { appendFileSync } from "node:fs";

let counter = 0;
// The user's own words: text blocks that are not the CLI's <system-reminder> additions.
const userTexts = (message) => (typeof message.content === "string" ? [message.content] : (message.content ?? [])
  .filter((b) => b.type === "text" && !b.text.startsWith("<system-reminder>")).map((b) => b.text));

function answer(body) {
  const messages = body.messages ?? [];
  // The newest user message (the CLI may put a "system" message after it).
  const last = [...messages].reverse().find((m) => m.role === "user") ?? { content: [] };
  const results = Array.isArray(last.content) ? last.content.filter((b) => b.type === "tool_result") : [];
  if (results.length) {
    const r = results[0];
    const text = typeof r.content === "string" ? r.content : (r.content ?? []).map((c) => c.text ?? "").join("");
    return { text: `${r.is_error ? "Tool refused" : "Tool result"}: ${text.trim()}` };
  }
  // The newest of the user's words: the CLI may merge consecutive user turns (an interrupted one, then the next).
  const said = userTexts(last).at(-1) ?? "";
  const tool = /\[tool ([^\]]+)\]/.exec(said);
  if (tool) return { tool: { id: `toolu_fake_${++counter}`, name: "Bash", input: { command: tool[1], description: "Run the command" } } };
  if (said.includes("[ask]")) return { tool: { id: `toolu_fake_${++counter}`, name: "AskUserQuestion", input: { questions: [
    { question: "Which color?", header: "Color", multiSelect: false, options: [{ label: "red", description: "warm" }, { label: "blue", description: "cold" }] }] } } };
  if (said.includes("[plan-exit]")) return { tool: { id: `toolu_fake_${++counter}`, name: "ExitPlanMode", input: { plan: "1. Read the code\n2. Fix the bug" } } };
  if (said.includes("[task]")) return { tool: { id: `toolu_fake_${++counter}`, name: "Task", input: { description: "Look around", prompt: "look around", subagent_type: "general-purpose" } } };
  if (said.includes("[hang]")) return { hang: true };
  if (said.includes("[mcp-tools]")) {
    const names = (body.tools ?? []).map((t) => t.name).filter((n) => n.startsWith("mcp__paseo__")).sort();
    return { text: `MCP tools: ${names.join(",")}` };
  }
  const mcp = /\[mcp (\w+) (\{.*\})\]/s.exec(said);
  if (mcp) return { tool: { id: `toolu_fake_${++counter}`, name: `mcp__paseo__${mcp[1]}`, input: JSON.parse(mcp[2]) } };
  if (said.includes("[remember]")) {
    const first = messages.filter((m) => m.role === "user").flatMap(userTexts)[0];
    return { text: `First prompt: ${first}` };
  }
  return { text: `Echo: ${said}` };
}

createServer((req, res) => {
  let raw = "";
  req.on("data", (c) => (raw += c));
  req.on("end", () => {
    if (req.method !== "POST" || !req.url.startsWith("/v1/messages")) { res.writeHead(404, { "content-type": "application/json" }); res.end("{}"); return; }
    const body = JSON.parse(raw || "{}");
    if (process.env.FAKE_API_LOG) appendFileSync(process.env.FAKE_API_LOG, JSON.stringify({ path: req.url, stream: !!body.stream }) + "\n");
    const reply = answer(body);
    const id = `msg_fake_${++counter}`;
    const usage = { input_tokens: 12, output_tokens: 6, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };
    if (!body.stream) {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ id, type: "message", role: "assistant", model: body.model, content: [{ type: "text", text: reply.text ?? "ok" }], stop_reason: "end_turn", stop_sequence: null, usage }));
      return;
    }
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const event = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    event("message_start", { message: { id, type: "message", role: "assistant", model: body.model, content: [], stop_reason: null, stop_sequence: null, usage } });
    if (reply.hang) return; // the CLI hangs up when it is interrupted
    if (reply.tool) {
      event("content_block_start", { index: 0, content_block: { type: "tool_use", id: reply.tool.id, name: reply.tool.name, input: {} } });
      event("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json: JSON.stringify(reply.tool.input) } });
      event("content_block_stop", { index: 0 });
      event("message_delta", { delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 6 } });
    } else {
      event("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
      for (const piece of reply.text.match(/.{1,12}/gs) ?? []) event("content_block_delta", { index: 0, delta: { type: "text_delta", text: piece } });
      event("content_block_stop", { index: 0 });
      event("message_delta", { delta: { stop_reason: "end_turn", stop_sequence: null }, usage: { output_tokens: 6 } });
    }
    event("message_stop", {});
    res.end();
  });
}).listen(0, "127.0.0.1", function () { console.log(`listening on ${this.address().port}`); });
process.on("SIGTERM", () => process.exit(0));
