// Plays Paseo's client crypto with tweetnacl itself (relay-e2ee.md §2), so the C# codec is checked against the real
// library, not only against vectors. Reads one JSON job on stdin, writes one JSON result on stdout.
//
//   encrypt: {daemonPublicKeyB64, plaintexts:[hex...]} -> {clientPublicKeyB64, clientSecretKeyB64, frames:[text frame...]}
//            A fresh client keypair, box.before(daemonPk, clientSk), one random nonce per frame, base64(nonce ‖ box.after).
//   decrypt: {daemonPublicKeyB64, clientSecretKeyB64, frames:[text frame...]} -> {plaintexts:[hex|null...]}
//            box.open.after with the same shared key; null where tweetnacl refuses a frame.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const nacl = require("tweetnacl");

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));

const fromB64 = (s) => new Uint8Array(Buffer.from(s, "base64"));
const toB64 = (bytes) => Buffer.from(bytes).toString("base64");
const fromHex = (s) => new Uint8Array(Buffer.from(s, "hex"));
const toHex = (bytes) => Buffer.from(bytes).toString("hex");

const mode = process.argv[2];
const daemonPk = fromB64(input.daemonPublicKeyB64);
let output;
if (mode === "encrypt") {
  const client = nacl.box.keyPair();
  const shared = nacl.box.before(daemonPk, client.secretKey);
  const frames = input.plaintexts.map((hex) => {
    const nonce = nacl.randomBytes(nacl.box.nonceLength);
    const sealed = nacl.box.after(fromHex(hex), nonce, shared);
    const bundle = new Uint8Array(nonce.length + sealed.length);
    bundle.set(nonce, 0);
    bundle.set(sealed, nonce.length);
    return toB64(bundle);
  });
  output = { clientPublicKeyB64: toB64(client.publicKey), clientSecretKeyB64: toB64(client.secretKey), frames };
} else if (mode === "decrypt") {
  const shared = nacl.box.before(daemonPk, fromB64(input.clientSecretKeyB64));
  const plaintexts = input.frames.map((frame) => {
    const bundle = fromB64(frame);
    const opened = nacl.box.open.after(bundle.subarray(nacl.box.nonceLength), bundle.subarray(0, nacl.box.nonceLength), shared);
    return opened ? toHex(opened) : null;
  });
  output = { plaintexts };
} else {
  console.error(`usage: node tweetnacl-interop.mjs encrypt|decrypt < job.json`);
  process.exit(64);
}
process.stdout.write(JSON.stringify(output));
