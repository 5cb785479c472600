// A phone written the way Paseo's clients work (relay-e2ee.md §2.3, §4), with npm's tweetnacl and ws: it pairs from a
// pairing link, joins the relay as a client, completes the E2EE handshake with an ephemeral key, says hello inside
// the tunnel and prints the daemon's server_info as JSON. Exit 0 on success, 1 on failure or after 20 s.
//   node relay-phone.mjs '<offer url>'
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const nacl = require("tweetnacl");
const WebSocket = require("ws");

const fail = (message) => {
  console.error(message);
  process.exit(1);
};
setTimeout(() => fail("timed out"), 20000).unref();

const url = process.argv[2] ?? fail("usage: node relay-phone.mjs '<offer url>'");
const encoded = url.slice(url.indexOf("#offer=") + "#offer=".length).trim().replace(/-/g, "+").replace(/_/g, "/");
const offer = JSON.parse(Buffer.from(encoded + "=".repeat((4 - (encoded.length % 4)) % 4), "base64").toString("utf8"));
if (offer.v !== 2) fail(`unsupported offer version ${offer.v}`);

const scheme = offer.relay.endpoint === "relay.paseo.sh:443" || offer.relay.useTls ? "wss" : "ws";
const socket = new WebSocket(`${scheme}://${offer.relay.endpoint}/ws?serverId=${encodeURIComponent(offer.serverId)}&role=client&v=2`);
const daemonKey = new Uint8Array(Buffer.from(offer.daemonPublicKeyB64, "base64"));
const ephemeral = nacl.box.keyPair();
const shared = nacl.box.before(daemonKey, ephemeral.secretKey);
const toB64 = (bytes) => Buffer.from(bytes).toString("base64");

const encrypt = (text) => {
  const nonce = nacl.randomBytes(nacl.box.nonceLength);
  const sealed = nacl.box.after(new TextEncoder().encode(text), nonce, shared);
  const bundle = new Uint8Array(nonce.length + sealed.length);
  bundle.set(nonce);
  bundle.set(sealed, nonce.length);
  return toB64(bundle);
};
const decrypt = (frame) => {
  const bundle = new Uint8Array(Buffer.from(frame, "base64"));
  const opened = nacl.box.open.after(bundle.subarray(nacl.box.nonceLength), bundle.subarray(0, nacl.box.nonceLength), shared);
  return opened ? new TextDecoder().decode(opened) : null;
};

let open = false;
let retry;
socket.on("open", () => {
  const hello = JSON.stringify({ type: "e2ee_hello", key: toB64(ephemeral.publicKey) });
  socket.send(hello);
  retry = setInterval(() => socket.send(hello), 1000);
});
socket.on("message", (data) => {
  const text = data.toString("utf8");
  if (!open) {
    try {
      if (JSON.parse(text).type === "e2ee_ready") {
        open = true;
        clearInterval(retry);
        socket.send(encrypt(JSON.stringify({ type: "hello", clientId: "cid_node_phone", clientType: "mobile", protocolVersion: 1 })));
      }
    } catch {
      // dropped while handshaking, as Paseo's client does
    }
    return;
  }
  // Once open, handshake JSON (a repeated e2ee_ready for a repeated hello) is ignored, as Paseo's client does.
  if (text.trimStart().startsWith("{")) return;
  const plaintext = decrypt(text);
  if (plaintext === null) fail("a frame did not decrypt");
  const frame = JSON.parse(plaintext);
  if (frame.type === "session" && frame.message?.payload?.status === "server_info") {
    process.stdout.write(JSON.stringify(frame.message.payload));
    socket.close(1000);
    process.exit(0);
  }
});
socket.on("close", (code, reason) => { if (!open) fail(`closed before the handshake: ${code} ${reason}`); });
socket.on("error", (error) => fail(error.message));
