// The web client's crypto and pairing against shared/spec/vectors/e2ee.json (a copy is kept in
// tests/Paseo.Transport.Tests/Vectors): the frames Paseo's clients make with tweetnacl, byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { classify, fromBase64, helloFrame, open, randomId, seal, sharedKey, toBase64 } from "../src/e2ee";
import { parseOffer, relaySocketUrl } from "../src/offer";

const here = dirname(fileURLToPath(import.meta.url));
const vectors = JSON.parse(readFileSync(join(here, "..", "..", "tests", "Paseo.Transport.Tests", "Vectors", "e2ee.json"), "utf8"));
const hex = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

const clientSecret = hex(vectors.client.secretKeyHex);
const daemonPublic = hex(vectors.daemon.publicKeyHex);

test("the shared key is crypto_box_beforenm of the daemon's public key and the client's secret key", () => {
  assert.equal(toHex(sharedKey(daemonPublic, clientSecret)), vectors.beforenmHex);
});

test("the hello frame carries the client's public key as Paseo writes it", () => {
  assert.equal(helloFrame(hex(vectors.client.publicKeyHex)), vectors.helloFrame);
});

test("every vector frame is sealed byte for byte and opens to its plaintext", () => {
  const key = sharedKey(daemonPublic, clientSecret);
  const nonce = hex(vectors.nonceHex);
  for (const frame of vectors.frames) {
    const plaintext = frame.plaintextHex !== undefined ? hex(frame.plaintextHex) : new TextEncoder().encode(frame.plaintextUtf8);
    assert.equal(seal(key, plaintext, nonce), frame.textFrame);
    assert.deepEqual(open(key, frame.textFrame), plaintext);
    // Text stays text (JSON for the app), anything that is not UTF-8 stays bytes (terminal frames).
    const read = classify(plaintext);
    if (frame.plaintextHex !== undefined) assert.ok(read instanceof Uint8Array);
    else assert.equal(read, frame.plaintextUtf8);
  }
});

test("a frame with one flipped byte, a short one and one that is not base64 are refused", () => {
  const key = sharedKey(daemonPublic, clientSecret);
  const bundle = fromBase64(vectors.frames[0].textFrame);
  bundle[bundle.length - 1] ^= 1;
  assert.throws(() => open(key, toBase64(bundle)), /Decryption failed/);
  assert.throws(() => open(key, toBase64(bundle.subarray(0, 10))), /too short/);
  assert.throws(() => open(key, "%%%"), /not base64/);
  // A random nonce per message: the same plaintext never makes the same frame twice.
  const hello = new TextEncoder().encode("hi");
  assert.notEqual(seal(key, hello), seal(key, hello));
});

test("the pairing offer of the vector link is read, and a tampered or foreign link is refused with a reason", () => {
  const offer = parseOffer(vectors.offer.url);
  assert.equal(offer.serverId, vectors.offer.serverId);
  assert.equal(offer.daemonPublicKeyB64, vectors.daemon.publicKeyB64);
  assert.equal(relaySocketUrl(offer, false), `ws://${offer.relayEndpoint}/ws?serverId=${offer.serverId}&role=client&v=2`);
  assert.match(relaySocketUrl(offer, true), /^wss:\/\//);
  const payload = vectors.offer.url.slice(vectors.offer.url.indexOf("#offer=") + 7);
  assert.throws(() => parseOffer("https://example.test/#offer=" + payload.slice(0, -6) + "AAAAAA"), /damaged|version|key|endpoint/);
  assert.throws(() => parseOffer("https://example.test/"), /no pairing offer/);
  const shortKey = btoa(JSON.stringify({ v: 2, serverId: "srv_x", daemonPublicKeyB64: "AAAA", relay: { endpoint: "127.0.0.1:1" } }));
  assert.throws(() => parseOffer("#offer=" + shortKey), /not 32 bytes/);
});

test("ids come from getRandomValues (crypto.randomUUID is missing on a plain-http LAN page)", () => {
  const a = randomId();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, randomId());
  assert.match(randomId(8), /^[0-9a-f]{16}$/);
});
