// Paseo's app protocol over one channel (app-protocol.md §1): hello → server_info, session-wrapped requests answered
// by requestId, pushes (agent_update, agent_stream, permission requests). Reconnects by itself with a growing delay,
// says at every moment what state it is in, and names why it cannot connect (wrong password, key rotated, offline).
import { Channel, openDirect, openEncrypted } from "./channel";
import { relaySocketUrl } from "./offer";

/** A daemon the phone paired with: through a relay (from a pairing link), or direct (a LAN or tailnet URL). */
export interface SavedDaemon {
  id: string;
  label: string;
  relay?: { serverId: string; daemonPublicKeyB64: string; relayEndpoint: string };
  direct?: { url: string; password?: string };
}

export type ConnectionState =
  | { kind: "connecting" }
  | { kind: "online"; hostname: string; version: string }
  | { kind: "reconnecting"; reason: string; inMs: number }
  | { kind: "failed"; reason: string };

export type Json = Record<string, any>;

type Pending = { resolve: (payload: Json) => void; reject: (error: Error) => void; timer: ReturnType<typeof setTimeout> };

const RequestTimeoutMs = 20_000;
// A daemon that does not complete the handshake and hello within this is not answering (offline, or another key).
const HandshakeTimeoutMs = 10_000;
// After this many attempts in a row that got no server_info, the likely cause is named: the pairing changed.
const AttemptsBeforeHint = 3;

/** Close codes that no retry can fix: the user must act (pair again, give the password). */
function fatalReason(code: number, reason: string): string | null {
  if (code === 4401 || /password/i.test(reason)) return `The daemon refused the password (${reason || code})`;
  if (code === 4001 && /key|pair/i.test(reason)) return `${reason}: pair again`;
  return null;
}

export class DaemonClient {
  private channel: Channel | null = null;
  private pending = new Map<string, Pending>();
  private nextRequest = 0;
  private attempt = 0;
  // Attempts in a row that ended before server_info; and this attempt's timer for it.
  private unanswered = 0;
  // This attempt's channel opened (the relay handshake got e2ee_ready, or the direct socket connected).
  private opened = false;
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private stateListeners = new Set<(state: ConnectionState) => void>();
  private pushListeners = new Set<(type: string, payload: Json) => void>();
  private onlineListeners = new Set<() => void>();
  state: ConnectionState = { kind: "connecting" };

  constructor(readonly daemon: SavedDaemon, private readonly clientId: string) {}

  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    listener(this.state);
    return () => this.stateListeners.delete(listener);
  }

  /** Every push (a session message that answers no request of ours). */
  onPush(listener: (type: string, payload: Json) => void): () => void {
    this.pushListeners.add(listener);
    return () => this.pushListeners.delete(listener);
  }

  /** Each time the session is (again) online: subscriptions are made anew there, and timelines catch up from their cursor. */
  onOnline(listener: () => void): () => void {
    this.onlineListeners.add(listener);
    if (this.state.kind === "online") listener();
    return () => this.onlineListeners.delete(listener);
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.channel?.close(1000, "Closed by the user");
    this.channel = null;
  }

  /** A session request; resolves with its response's payload, rejects with an rpc_error's message. */
  request(type: string, fields: Json = {}, timeoutMs = RequestTimeoutMs): Promise<Json> {
    const requestId = `r${++this.nextRequest}-${Date.now().toString(36)}`;
    return new Promise((resolve, reject) => {
      if (this.state.kind !== "online" || !this.channel) {
        reject(new Error("Not connected"));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error(`${type}: no answer within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer });
      this.channel.send(JSON.stringify({ type: "session", message: { type, requestId, ...fields } }));
    });
  }

  /** A session message that is answered by nothing (client_heartbeat, a permission answer...); false when offline (not sent). */
  tell(type: string, fields: Json = {}): boolean {
    if (this.state.kind !== "online" || !this.channel) return false;
    this.channel.send(JSON.stringify({ type: "session", message: { type, ...fields } }));
    return true;
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private connect(): void {
    if (this.stopped) return;
    this.setState({ kind: "connecting" });
    this.opened = false;
    const events = {
      onOpen: () => {
        this.opened = true;
        this.channel?.send(JSON.stringify({
          type: "hello", clientId: this.clientId, clientType: "browser", protocolVersion: 1, appVersion: "paseo-net-web",
          capabilities: { reasoning_merge_enum: true },
        }));
      },
      onMessage: (message: string | Uint8Array) => {
        if (typeof message === "string") this.onText(message);
      },
      onClose: (code: number, reason: string) => this.onClosed(code, reason),
    };
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = setTimeout(() => this.channel?.close(4000, "The daemon did not answer"), HandshakeTimeoutMs);
    const { relay, direct } = this.daemon;
    try {
      if (relay) {
        const url = relaySocketUrl({ serverId: relay.serverId, daemonPublicKeyB64: relay.daemonPublicKeyB64, relayEndpoint: relay.relayEndpoint }, location.protocol === "https:");
        this.channel = openEncrypted(url, relay.daemonPublicKeyB64, events);
      } else if (direct) {
        this.channel = openDirect(direct.url, events, direct.password);
      }
    } catch (e) {
      // The browser refused the address itself (a password a subprotocol cannot carry, ws:// from an https page...).
      clearTimeout(this.handshakeTimer);
      this.setState({ kind: "failed", reason: `Cannot connect: ${(e as Error).message}` });
    }
  }

  private onText(text: string): void {
    let frame: Json;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.type !== "session" || typeof frame.message !== "object") return;
    const { type, payload } = frame.message as { type: string; payload: Json };
    if (type === "status" && payload?.status === "server_info") {
      clearTimeout(this.handshakeTimer);
      this.attempt = 0;
      this.unanswered = 0;
      this.setState({ kind: "online", hostname: String(payload.hostname ?? ""), version: String(payload.version ?? "") });
      for (const listener of this.onlineListeners) listener();
      return;
    }
    const requestId = payload?.requestId;
    const pending = typeof requestId === "string" ? this.pending.get(requestId) : undefined;
    if (pending) {
      this.pending.delete(requestId);
      clearTimeout(pending.timer);
      if (type === "rpc_error") pending.reject(new Error(String(payload.error ?? "Request failed")));
      else pending.resolve({ ...payload, type: type === "status" ? payload.status : type });
      return;
    }
    // A reply to a request this page never made: counted (the browser tests check it stays 0 with two phones).
    if (typeof requestId === "string" && (type.endsWith("_response") || type === "rpc_error"))
      (globalThis as { __paseoStrayReplies?: number }).__paseoStrayReplies = ((globalThis as { __paseoStrayReplies?: number }).__paseoStrayReplies ?? 0) + 1;
    for (const listener of this.pushListeners) listener(type, payload ?? {});
  }

  private onClosed(code: number, reason: string): void {
    const wasOnline = this.state.kind === "online";
    clearTimeout(this.handshakeTimer);
    this.channel = null;
    for (const [, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new Error("The connection closed"));
    }
    this.pending.clear();
    if (this.stopped) return;
    const fatal = fatalReason(code, reason);
    if (fatal) {
      this.setState({ kind: "failed", reason: fatal });
      return;
    }
    // 1s, 2s, 4s… at most 10 s between attempts: a network change or a relay restart is caught up with by itself.
    const inMs = Math.min(10_000, 1000 * 2 ** Math.min(this.attempt++, 4));
    // Through the relay, a daemon that answers the handshake and then cannot read this phone's messages, time after
    // time, has a new key (paseo daemon pair --rotate): the old link no longer works. One that never answers is away.
    if (!wasOnline && this.opened) this.unanswered++;
    let why = code === 4000 ? "the daemon does not answer: is it running, and connected to its relay?"
      : code === 1012 ? "the daemon went away" : code === 1006 ? "the connection dropped" : reason || `closed (${code})`;
    if (this.daemon.relay && this.unanswered >= AttemptsBeforeHint)
      why = "the daemon does not accept this phone's pairing: it was probably paired again (paseo daemon pair --rotate) — pair again with its new link";
    this.setState({ kind: "reconnecting", reason: why, inMs });
    this.retry = setTimeout(() => this.connect(), inMs);
  }
}
