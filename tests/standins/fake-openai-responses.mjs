#!/usr/bin/env node
// A stand-in for OpenAI's Responses API (POST /v1/responses, streamed as server-sent events), on loopback, so the REAL
// Codex CLI (`codex app-server`, tests/realcli) can run whole turns in tests: the CLI is real, only the cloud is replaced
// (a custom model provider in CODEX_HOME/config.toml points Codex here). The newest user text is the script:
//   [tool CMD]   an exec_command function call for CMD that asks to run outside the sandbox (so Codex asks the user);
//                the request carrying its output is answered "Tool result: <output>"
//   [ask]        a request_user_input call ("Which color?": red or blue); answered "Tool result: <answers>"
//   [hang]       starts the response and never finishes it (until Codex hangs up: an interrupt)
//   [remember]   "First prompt: <the first user text of the conversation>" (shows a resumed thread)
//   anything else: "Echo: <text>"
// Prints "listening on PORT" when ready.
import { createServer } from "node:http";

let counter = 0;
// The user's own words: input_text parts of user messages that are not Codex's <environment_context>-style additions.
const userTexts = (item) => (item.type === "message" && item.role === "user" ? (item.content ?? []) : [])
  .filter((c) => c.type === "input_text" && !c.text.trimStart().startsWith("<")).map((c) => c.text);

function answer(body) {
  const input = body.input ?? [];
  const last = input[input.length - 1] ?? {};
  if (last.type === "function_call_output") {
    const output = typeof last.output === "string" ? last.output : JSON.stringify(last.output);
    return { text: `Tool result: ${output}` };
  }
  const said = input.flatMap(userTexts).at(-1) ?? "";
  const tool = /\[tool ([^\]]+)\]/.exec(said);
  if (tool) return { call: { name: "exec_command", arguments: { cmd: tool[1], sandbox_permissions: "require_escalated", justification: "The test wants this command run" } } };
  if (said.includes("[ask]")) return { call: { name: "request_user_input", arguments: { questions: [{ id: "color", header: "Color", question: "Which color?",
    options: [{ label: "red", description: "warm" }, { label: "blue", description: "cold" }] }] } } };
  if (said.includes("[hang]")) return { hang: true };
  if (said.includes("[remember]")) return { text: `First prompt: ${input.flatMap(userTexts)[0]}` };
  return { text: `Echo: ${said}` };
}

createServer((req, res) => {
  let raw = "";
  req.on("data", (c) => (raw += c));
  req.on("end", () => {
    if (req.method !== "POST" || !req.url.endsWith("/responses")) { res.writeHead(404, { "content-type": "application/json" }); res.end("{}"); return; }
    const body = JSON.parse(raw || "{}");
    const reply = answer(body);
    const id = `resp_fake_${++counter}`;
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const event = (type, data) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    event("response.created", { response: { id, object: "response", status: "in_progress", output: [] } });
    if (reply.hang) return; // Codex hangs up when the turn is interrupted
    let item;
    if (reply.call) {
      const args = JSON.stringify(reply.call.arguments);
      item = { id: `fc_fake_${++counter}`, type: "function_call", status: "completed", call_id: `call_fake_${counter}`, name: reply.call.name, arguments: args };
      event("response.output_item.added", { output_index: 0, item: { ...item, status: "in_progress", arguments: "" } });
      event("response.function_call_arguments.delta", { item_id: item.id, output_index: 0, delta: args });
      event("response.function_call_arguments.done", { item_id: item.id, output_index: 0, arguments: args });
    } else {
      item = { id: `msg_fake_${++counter}`, type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: reply.text, annotations: [] }] };
      event("response.output_item.added", { output_index: 0, item: { ...item, status: "in_progress", content: [] } });
      event("response.content_part.added", { item_id: item.id, output_index: 0, content_index: 0, part: { type: "output_text", text: "", annotations: [] } });
      for (const piece of reply.text.match(/.{1,12}/gs) ?? []) event("response.output_text.delta", { item_id: item.id, output_index: 0, content_index: 0, delta: piece });
      event("response.output_text.done", { item_id: item.id, output_index: 0, content_index: 0, text: reply.text });
    }
    event("response.output_item.done", { output_index: 0, item });
    event("response.completed", { response: { id, object: "response", status: "completed", output: [item],
      usage: { input_tokens: 20, input_tokens_details: { cached_tokens: 4 }, output_tokens: 7, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 27 } } });
    res.end();
  });
}).listen(0, "127.0.0.1", function () { console.log(`listening on ${this.address().port}`); });
process.on("SIGTERM", () => process.exit(0));
