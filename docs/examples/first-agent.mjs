// Creates a mock agent on a local Paseo.NET daemon and prints what it streams (Node 20: --experimental-websocket).
const ws = new WebSocket(process.env.PASEO_WS ?? "ws://127.0.0.1:6767/ws");
const send = (message) => ws.send(JSON.stringify(message));
ws.onopen = () => send({ type: "hello", clientId: "cid_first_run", clientType: "cli", protocolVersion: 1 });
ws.onmessage = ({ data }) => {
  const { message } = JSON.parse(data);
  if (message?.payload?.status === "server_info") {
    send({ type: "session", message: { type: "create_agent_request", requestId: "r1",
      config: { provider: "mock", cwd: process.cwd(), title: "first" },
      initialPrompt: "Say hello [shell ls]" } });
  } else if (message?.type === "agent_stream") {
    const { event } = message.payload;
    console.log(event.type, event.item ? JSON.stringify(event.item) : "");
    if (event.type === "turn_completed") ws.close();
  } else if (message?.payload?.status === "agent_created") {
    console.log("agent_created", message.payload.agentId);
  }
};
