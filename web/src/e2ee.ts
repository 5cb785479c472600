// The E2EE layer of Paseo's relay protocol (relay-e2ee.md §2), as Paseo's own clients speak it: NaCl box with a key
// derived once per connection from the daemon's static public key (from the pairing offer) and a fresh client key pair;
// each message is nonce(24) ‖ tag(16) ‖ ciphertext, sent as standard base64 in a WebSocket text frame.
import nacl from "tweetnacl";

export const NonceBytes = 24;
export const KeyBytes = 32;

/** Standard base64 with `=` padding (what base64-js's fromByteArray writes). */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Lenient base64, as Paseo's receivers read it: trimmed, url-safe characters mapped, padding re-added. Throws on garbage. */
export function fromBase64(text: string): Uint8Array {
  let t = text.trim().replace(/-/g, "+").replace(/_/g, "/");
  while (t.length % 4 !== 0) t += "=";
  const binary = atob(t);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export interface KeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

/** A fresh client key pair: one per connection attempt, never stored. */
export const newKeyPair = (): KeyPair => nacl.box.keyPair();

/** The connection's one key, for both directions: crypto_box_beforenm(daemon public key, client secret key). */
export function sharedKey(daemonPublicKey: Uint8Array, clientSecretKey: Uint8Array): Uint8Array {
  if (daemonPublicKey.length !== KeyBytes) throw new Error("The daemon key in the pairing link is not 32 bytes: pair again");
  return nacl.box.before(daemonPublicKey, clientSecretKey);
}

/** The handshake frame that opens the channel: the client's public key. */
export const helloFrame = (clientPublicKey: Uint8Array): string => JSON.stringify({ type: "e2ee_hello", key: toBase64(clientPublicKey) });

/** One message as its text frame. The nonce is random per message unless a test gives one. */
export function seal(key: Uint8Array, plaintext: Uint8Array, nonce: Uint8Array = nacl.randomBytes(NonceBytes)): string {
  const box = nacl.box.after(plaintext, nonce, key);
  const bundle = new Uint8Array(NonceBytes + box.length);
  bundle.set(nonce, 0);
  bundle.set(box, NonceBytes);
  return toBase64(bundle);
}

/** The plaintext of a text frame, or why it cannot be read (every such error ends the connection, as in Paseo). */
export function open(key: Uint8Array, frame: string): Uint8Array {
  let bundle: Uint8Array;
  try {
    bundle = fromBase64(frame);
  } catch {
    throw new Error("Ciphertext is not base64");
  }
  if (bundle.length < NonceBytes) throw new Error("Ciphertext bundle too short");
  const plaintext = nacl.box.open.after(bundle.subarray(NonceBytes), bundle.subarray(0, NonceBytes), key);
  if (!plaintext) throw new Error("Decryption failed");
  return plaintext;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/** A decrypted payload as the app layer reads it: text when it is UTF-8 (JSON), else bytes (terminal and file frames). */
export function classify(plaintext: Uint8Array): string | Uint8Array {
  try {
    return decoder.decode(plaintext);
  } catch {
    return plaintext;
  }
}

/**
 * A random id of `bytes` bytes, as hex. crypto.randomUUID exists only in secure contexts, and a page
 * served over plain http from a LAN or tailnet address is not one; getRandomValues works everywhere.
 */
export function randomId(bytes = 16): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
}
