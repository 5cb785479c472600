// The pairing offer (relay-e2ee.md §4): `<app>/#offer=<base64url of {"v":2,"serverId","daemonPublicKeyB64","relay":{"endpoint"}}>`.
// It lives in the URL fragment, which the browser never sends to a server.
import { fromBase64, KeyBytes } from "./e2ee";

export interface Offer {
  serverId: string;
  daemonPublicKeyB64: string;
  relayEndpoint: string;
}

/** The offer in a link (or the fragment alone), checked; throws with what is wrong. */
export function parseOffer(link: string): Offer {
  const at = link.indexOf("#offer=");
  if (at < 0) throw new Error("This link has no pairing offer (#offer=…)");
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(fromBase64(link.slice(at + "#offer=".length).trim())));
  } catch {
    throw new Error("The pairing offer in this link is damaged");
  }
  const offer = json as { v?: unknown; serverId?: unknown; daemonPublicKeyB64?: unknown; relay?: { endpoint?: unknown } };
  if (offer?.v !== 2) throw new Error("This pairing offer is not version 2");
  if (typeof offer.serverId !== "string" || offer.serverId.trim() === "") throw new Error("The pairing offer has no server id");
  if (typeof offer.daemonPublicKeyB64 !== "string") throw new Error("The pairing offer has no daemon key");
  let key: Uint8Array;
  try {
    key = fromBase64(offer.daemonPublicKeyB64);
  } catch {
    throw new Error("The daemon key in the pairing offer is not base64");
  }
  if (key.length !== KeyBytes) throw new Error("The daemon key in the pairing offer is not 32 bytes");
  if (typeof offer.relay?.endpoint !== "string" || !/^(\[[0-9a-fA-F:.]+\]|[^\s:/]+):\d{1,5}$/.test(offer.relay.endpoint))
    throw new Error("The pairing offer has no relay endpoint (host:port)");
  return { serverId: offer.serverId, daemonPublicKeyB64: offer.daemonPublicKeyB64, relayEndpoint: offer.relay.endpoint };
}

/** The relay WebSocket URL a phone connects to (relay-e2ee.md §1.2): TLS when the page itself came over https. */
export function relaySocketUrl(offer: Offer, secure: boolean): string {
  const url = new URL(`${secure ? "wss" : "ws"}://${offer.relayEndpoint}/ws`);
  url.searchParams.set("serverId", offer.serverId);
  url.searchParams.set("role", "client");
  url.searchParams.set("v", "2");
  return url.toString();
}
