// One connection to a daemon: through the relay, end-to-end encrypted (relay-e2ee.md §2.3: a fresh key pair per
// connection, e2ee_hello re-sent every second until e2ee_ready, sends queued meanwhile), or direct to a daemon's /ws
// (a LAN or tailnet address) in plain text. Either way the caller sees text and binary messages.
import { classify, helloFrame, newKeyPair, open, seal, sharedKey, fromBase64 } from "./e2ee";

export interface Channel {
  send(message: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export interface ChannelEvents {
  onOpen(): void;
  onMessage(message: string | Uint8Array): void;
  /** The connection ended: how (the socket's close code and reason, or a local error). */
  onClose(code: number, reason: string): void;
}

const MaxPendingSends = 200;
const HelloEveryMs = 1000;

/** Through the relay: the daemon's key from the pairing offer; messages are sealed and opened here, in the browser. */
export function openEncrypted(url: string, daemonPublicKeyB64: string, events: ChannelEvents): Channel {
  const socket = new WebSocket(url);
  const keys = newKeyPair();
  let key: Uint8Array | null = null;
  let ready = false;
  let closed = false;
  let hello: ReturnType<typeof setInterval> | undefined;
  const pending: (string | Uint8Array)[] = [];
  const encoder = new TextEncoder();

  const fail = (code: number, reason: string) => {
    if (closed) return;
    closed = true;
    clearInterval(hello);
    try {
      // Browsers take only 1000 or 3000–4999 here (1011, for one, throws): the socket is closed with what they allow,
      // and the caller is told the real code.
      socket.close(code === 1000 || (code >= 3000 && code <= 4999) ? code : 4000, reason.slice(0, 120));
    } catch {
      // already closing
    }
    events.onClose(code, reason);
  };
  const write = (message: string | Uint8Array) => socket.send(seal(key!, typeof message === "string" ? encoder.encode(message) : message));

  socket.onopen = () => {
    try {
      key = sharedKey(fromBase64(daemonPublicKeyB64), keys.secretKey);
    } catch (e) {
      fail(4001, (e as Error).message);
      return;
    }
    const frame = helloFrame(keys.publicKey);
    socket.send(frame);
    hello = setInterval(() => socket.readyState === WebSocket.OPEN && socket.send(frame), HelloEveryMs);
  };
  socket.onmessage = (event) => {
    if (closed || typeof event.data !== "string") return;
    const text = event.data;
    if (text.trimStart().startsWith("{")) {
      let json: { type?: unknown } | null = null;
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
      if (json) {
        if (json.type === "e2ee_ready" && !ready) {
          ready = true;
          clearInterval(hello);
          events.onOpen();
          for (const message of pending.splice(0)) write(message);
        } else if (json.type !== "e2ee_ready" && json.type !== "e2ee_hello" && ready) {
          fail(1011, "Received plaintext frame on encrypted channel");
        }
        return;
      }
    }
    if (!ready) return; // before the handshake ends, anything but e2ee_ready is dropped
    try {
      events.onMessage(classify(open(key!, text)));
    } catch (e) {
      fail(1011, (e as Error).message);
    }
  };
  socket.onclose = (event) => {
    if (closed) return;
    closed = true;
    clearInterval(hello);
    events.onClose(event.code, event.reason);
  };
  return {
    send(message) {
      if (closed) return;
      if (!ready) {
        if (pending.length >= MaxPendingSends) pending.shift();
        pending.push(message);
        return;
      }
      write(message);
    },
    close(code = 1000, reason = "Normal closure") {
      fail(code, reason);
    },
  };
}

/**
 * Direct to a daemon's /ws: plain frames (the network between is yours: a LAN or a tailnet). A password travels as
 * the subprotocol `paseo.bearer.<password>` (browsers cannot set headers on a WebSocket).
 */
export function openDirect(url: string, events: ChannelEvents, password?: string): Channel {
  const socket = password ? new WebSocket(url, [`paseo.bearer.${password}`]) : new WebSocket(url);
  socket.binaryType = "arraybuffer";
  let closed = false;
  socket.onopen = () => events.onOpen();
  socket.onmessage = (event) => events.onMessage(typeof event.data === "string" ? event.data : new Uint8Array(event.data as ArrayBuffer));
  socket.onclose = (event) => {
    if (closed) return;
    closed = true;
    events.onClose(event.code, event.reason);
  };
  return {
    send(message) {
      if (!closed && socket.readyState === WebSocket.OPEN) socket.send(message);
    },
    close(code = 1000, reason = "Normal closure") {
      if (closed) return;
      closed = true;
      socket.close(code, reason);
      events.onClose(code, reason);
    },
  };
}
