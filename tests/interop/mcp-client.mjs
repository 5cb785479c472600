#!/usr/bin/env node
// Paseo's own MCP client library (the TypeScript SDK, @modelcontextprotocol/sdk) against Paseo.NET's /mcp/agents:
// connects over Streamable HTTP with the Authorization given, lists the tools, creates a mock agent and waits for it.
// Usage: node mcp-client.mjs <endpoint URL> <Authorization header> <cwd>. Prints one JSON line with what it saw.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const [endpoint, authorization, cwd] = process.argv.slice(2);
const client = new Client({ name: "paseo-net-interop", version: "1.0.0" });
const transport = new StreamableHTTPClientTransport(new URL(endpoint), { requestInit: { headers: { Authorization: authorization } } });
await client.connect(transport);
const tools = await client.listTools();
const created = await client.callTool({ name: "create_agent", arguments: { title: "from-ts", provider: "mock/mock-1", initialPrompt: "[say typescript sdk]", cwd } });
const waited = await client.callTool({ name: "wait_for_agent", arguments: { agentId: created.structuredContent.agentId } });
const invalid = await client.callTool({ name: "create_agent", arguments: { title: "x" } }).then(() => null, (e) => e.code ?? String(e));
console.log(JSON.stringify({
  server: client.getServerVersion(), sessionId: transport.sessionId ?? null, tools: tools.tools.map((t) => t.name).sort(),
  created: created.structuredContent, waited: waited.structuredContent, invalidCode: invalid,
}));
await transport.terminateSession();
await client.close();
