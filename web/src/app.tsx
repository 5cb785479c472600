// The screens: pair, agents, one agent (timeline, prompt, permissions, cancel, mode), new agent. Phone-sized first.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ConnectionState, DaemonClient, Json, SavedDaemon } from "./client";
import { randomId, toBase64 } from "./e2ee";
import { parseOffer } from "./offer";
import { clientId, forgetDaemon, loadDaemons, saveDaemon } from "./store";

type Route = { screen: "agents" } | { screen: "agent"; agentId: string } | { screen: "new" } | { screen: "pair" };

export function App() {
  const [daemons, setDaemons] = useState<SavedDaemon[] | null>(null);
  const [current, setCurrent] = useState<SavedDaemon | null>(null);
  const [pairError, setPairError] = useState<string | null>(null);
  const [route, setRoute] = useState<Route>({ screen: "agents" });

  useEffect(() => {
    (async () => {
      let saved = await loadDaemons();
      // A pairing link opened in this browser: the offer is read from the fragment, saved, then removed from the address bar.
      if (location.hash.includes("offer=")) {
        try {
          const offer = parseOffer(location.href);
          const daemon: SavedDaemon = { id: offer.serverId, label: offer.serverId, relay: offer };
          saved = await saveDaemon(daemon);
          setCurrent(daemon);
        } catch (e) {
          setPairError((e as Error).message);
        }
        history.replaceState(null, "", location.pathname);
      }
      setDaemons(saved);
      setCurrent((c) => c ?? saved[0] ?? null);
    })();
  }, []);

  if (daemons === null) return <main class="center">Loading…</main>;
  if (!current || route.screen === "pair")
    return (
      <Pair
        error={pairError}
        daemons={daemons}
        onPaired={async (daemon) => {
          setDaemons(await saveDaemon(daemon));
          setCurrent(daemon);
          setPairError(null);
          setRoute({ screen: "agents" });
        }}
        onPick={(daemon) => {
          setCurrent(daemon);
          setRoute({ screen: "agents" });
        }}
        onForget={async (id) => {
          const left = await forgetDaemon(id);
          setDaemons(left);
          if (current?.id === id) setCurrent(left[0] ?? null);
        }}
      />
    );
  return <Connected key={current.id} daemon={current} route={route} go={setRoute} />;
}

function Pair(props: { error: string | null; daemons: SavedDaemon[]; onPaired(d: SavedDaemon): void; onPick(d: SavedDaemon): void; onForget(id: string): void }) {
  const [link, setLink] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(props.error);
  const pair = () => {
    try {
      if (link.includes("#offer=")) {
        const offer = parseOffer(link.trim());
        props.onPaired({ id: offer.serverId, label: offer.serverId, relay: offer });
      } else {
        const address = link.trim();
        const url = new URL(address.includes("://") ? address : `http://${address}`);
        const ws = `${url.protocol === "https:" ? "wss" : "ws"}://${url.host}/ws`;
        props.onPaired({ id: `direct:${url.host}`, label: url.host, direct: { url: ws, password: password || undefined } });
      }
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <main class="pair">
      <h1>Paseo</h1>
      <p>Open the link <code>paseo daemon pair</code> prints, or paste it here. A daemon on your network: its address (and password).</p>
      <textarea aria-label="Pairing link or daemon address" value={link} onInput={(e) => setLink((e.target as HTMLTextAreaElement).value)} rows={3} />
      {!link.includes("#offer=") && link && (
        <input type="password" aria-label="Password" placeholder="Password (if the daemon has one)" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
      )}
      <button class="primary" onClick={pair} disabled={!link.trim()}>Pair</button>
      {error && <p class="error" role="alert">{error}</p>}
      {props.daemons.length > 0 && (
        <section>
          <h2>Paired daemons</h2>
          <ul class="list">
            {props.daemons.map((d) => (
              <li key={d.id}>
                <button class="link" onClick={() => props.onPick(d)}>{d.label}</button>
                <span class="muted">{d.relay ? `relay ${d.relay.relayEndpoint}` : "direct"}</span>
                <button class="small" onClick={() => props.onForget(d.id)}>Forget</button>
              </li>
            ))}
          </ul>
        </section>
      )}
    </main>
  );
}

function useClient(daemon: SavedDaemon): [DaemonClient | null, ConnectionState] {
  const [client, setClient] = useState<DaemonClient | null>(null);
  const [state, setState] = useState<ConnectionState>({ kind: "connecting" });
  useEffect(() => {
    let stopped = false;
    let created: DaemonClient | null = null;
    (async () => {
      const id = await clientId();
      if (stopped) return;
      created = new DaemonClient(daemon, id);
      created.onState(setState);
      created.start();
      setClient(created);
    })();
    return () => {
      stopped = true;
      created?.stop();
    };
  }, [daemon.id]);
  return [client, state];
}

function StateBadge({ state }: { state: ConnectionState }) {
  const text =
    state.kind === "online" ? `online · ${state.hostname}` :
    state.kind === "connecting" ? "connecting…" :
    state.kind === "reconnecting" ? `reconnecting (${state.reason})…` :
    state.reason;
  return <span class={`badge state-${state.kind}`} role="status" data-state={state.kind}>{text}</span>;
}

function Connected({ daemon, route, go }: { daemon: SavedDaemon; route: Route; go(r: Route): void }) {
  const [client, state] = useClient(daemon);
  return (
    <div class="app">
      <header>
        {route.screen !== "agents" ? <button class="link" onClick={() => go({ screen: "agents" })}>‹ Agents</button> : <strong>{daemon.label}</strong>}
        <StateBadge state={state} />
        <button class="small" onClick={() => go({ screen: "pair" })}>Daemons</button>
      </header>
      {state.kind === "failed" && <p class="error" role="alert">{state.reason}</p>}
      {client && route.screen === "agents" && <Agents client={client} open={(agentId) => go({ screen: "agent", agentId })} create={() => go({ screen: "new" })} />}
      {client && route.screen === "agent" && <Agent client={client} agentId={route.agentId} />}
      {client && route.screen === "new" && <NewAgent client={client} created={(agentId) => go({ screen: "agent", agentId })} />}
    </div>
  );
}

/** The agents, live: a subscribing fetch_agents, then agent_update pushes (made again after each reconnect). */
function Agents({ client, open, create }: { client: DaemonClient; open(id: string): void; create(): void }) {
  const [agents, setAgents] = useState<Map<string, Json>>(new Map());
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const offPush = client.onPush((type, payload) => {
      if (type !== "agent_update") return;
      setAgents((current) => {
        const next = new Map(current);
        if (payload.kind === "remove") next.delete(payload.agentId);
        else if (payload.agent) next.set(payload.agent.id, payload.agent);
        return next;
      });
    });
    const offOnline = client.onOnline(() => {
      client.request("fetch_agents_request", { subscribe: {}, sort: [{ key: "updated_at", direction: "desc" }] })
        .then((response) => {
          setAgents(new Map((response.entries as Json[]).map((e) => [e.agent.id, e.agent])));
          setError(null);
        })
        .catch((e) => setError((e as Error).message));
    });
    return () => {
      offPush();
      offOnline();
    };
  }, [client]);
  const sorted = [...agents.values()].sort((a, b) => String(b.updatedAt).localeCompare(String(a.updatedAt)));
  return (
    <main>
      <div class="toolbar">
        <h1>Agents</h1>
        <button class="primary" onClick={create}>New agent</button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {sorted.length === 0 && <p class="muted">No agents yet.</p>}
      <ul class="list agents">
        {sorted.map((agent) => (
          <li key={agent.id} data-agent-id={agent.id}>
            <button class="row" onClick={() => open(agent.id)}>
              <span class="title">{agent.title ?? agent.id.slice(0, 7)}</span>
              <span class={`status status-${agent.status}`}>{agent.status}</span>
              {agent.requiresAttention && <span class="attention" title={agent.attentionReason ?? ""}>●</span>}
              <span class="muted small">{agent.provider} · {agent.cwd}</span>
            </button>
          </li>
        ))}
      </ul>
    </main>
  );
}

type Row = { seqStart: number; seqEnd: number; item: Json; epoch?: string };

type Image = { data: string; mimeType: string; name: string };
const ImageTypes = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/** Picked files as the daemon takes them: base64 images of the types CLIs read. */
async function readImages(files: FileList | null): Promise<Image[]> {
  const images: Image[] = [];
  for (const file of Array.from(files ?? [])) {
    if (!ImageTypes.includes(file.type)) throw new Error(`${file.name}: only PNG, JPEG, GIF and WebP images can be attached`);
    images.push({ data: toBase64(new Uint8Array(await file.arrayBuffer())), mimeType: file.type, name: file.name });
  }
  return images;
}

/** Adds rows in order: assistant and reasoning text continues the row before it; a tool call's later states replace it. */
function appendRows(rows: Row[], added: Row[]): Row[] {
  const next = rows.slice();
  for (const row of added) {
    if (next.length > 0 && row.seqStart <= next[next.length - 1].seqEnd) continue; // already shown (a catch-up overlap)
    const last = next[next.length - 1];
    const type = row.item.type;
    if (last && (type === "assistant_message" || type === "reasoning") && last.item.type === type) {
      next[next.length - 1] = { seqStart: last.seqStart, seqEnd: row.seqEnd, item: { ...last.item, text: String(last.item.text ?? "") + String(row.item.text ?? "") } };
      continue;
    }
    if (type === "tool_call") {
      const at = next.findIndex((r) => r.item.type === "tool_call" && r.item.callId === row.item.callId);
      if (at >= 0) {
        next[at] = { ...next[at], seqEnd: row.seqEnd, item: row.item };
        continue;
      }
    }
    next.push(row);
  }
  return next;
}

function Agent({ client, agentId }: { client: DaemonClient; agentId: string }) {
  const [agent, setAgent] = useState<Json | null>(null);
  const [rows, setRows] = useState<Row[]>([]);
  const [permissions, setPermissions] = useState<Json[]>([]);
  const [prompt, setPrompt] = useState("");
  const [images, setImages] = useState<Image[]>([]);
  const [error, setError] = useState<string | null>(null);
  const cursor = useRef<{ epoch: string; seq: number } | null>(null);
  // While a catch-up is on its way, live rows wait here: applied after it, none is skipped and none shown twice.
  const held = useRef<Row[] | null>(null);
  const [syncing, setSyncing] = useState(true);
  // The first row shown, when the daemon has older ones: "Load earlier" fetches the page before it.
  const [older, setOlder] = useState<{ epoch: string; seq: number } | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const bottom = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const accept = (page: Json, reset: boolean) => {
      const entries: Row[] = (page.entries as Json[]).map((e) => ({ seqStart: e.seqStart, seqEnd: e.seqEnd, item: e.item }));
      setRows((current) => appendRows(reset ? [] : current, entries));
      if (page.endCursor) cursor.current = page.endCursor;
      else if (reset) cursor.current = null;
      if (reset) setOlder(page.hasOlder === true && page.startCursor ? page.startCursor : null);
      if (page.agent) {
        setAgent(page.agent);
        setPermissions(page.agent.pendingPermissions ?? []);
      }
    };
    // Online (again): catch up after the last row shown, page by page, then apply the live rows that came meanwhile;
    // a new epoch (the daemon restarted) reloads the tail.
    const catchUp = async () => {
      let after = cursor.current;
      let page = await client.request("fetch_agent_timeline_request", after
        ? { agentId, direction: "after", cursor: after, limit: 500 }
        : { agentId, direction: "tail", limit: 200 });
      if (page.error) throw new Error(page.error);
      // Another epoch (the daemon restarted), a cursor it no longer knows, or rows it cannot give: start again from the tail.
      if (after && (page.reset === true || page.staleCursor === true || page.gap === true || page.epoch !== after.epoch)) {
        page = await client.request("fetch_agent_timeline_request", { agentId, direction: "tail", limit: 200 });
        after = null;
      }
      accept(page, !after);
      while (page.hasNewer === true && cursor.current) {
        const from = cursor.current.seq;
        page = await client.request("fetch_agent_timeline_request", { agentId, direction: "after", cursor: cursor.current, limit: 500 });
        accept(page, false);
        if (!cursor.current || cursor.current.seq <= from) break; // no progress: stop rather than spin
      }
    };
    const offOnline = client.onOnline(() => {
      held.current = [];
      setSyncing(true);
      // This screen's status and mode follow agent_update: the subscription is made again for a session that may be new.
      client.request("fetch_agents_request", { subscribe: {}, page: { limit: 1 } }).catch(() => {});
      catchUp()
        .catch((e) => setError((e as Error).message))
        .finally(() => {
          const waiting = held.current ?? [];
          held.current = null;
          const last = cursor.current;
          const fresh = waiting.filter((r) => !last || r.seqStart > last.seq);
          if (fresh.length > 0) {
            setRows((current) => appendRows(current, fresh));
            const end = fresh[fresh.length - 1];
            cursor.current = { epoch: last?.epoch ?? end.epoch ?? "", seq: end.seqEnd };
          }
          setSyncing(false);
        });
      client.tell("client_heartbeat", { deviceType: "mobile", focusedAgentId: agentId, lastActivityAt: new Date().toISOString(), appVisible: true });
    });
    const offPush = client.onPush((type, payload) => {
      if (payload.agentId !== agentId) {
        if (type === "agent_update" && payload.agent?.id === agentId) setAgent(payload.agent);
        return;
      }
      if (type === "agent_stream" && payload.event?.type === "timeline" && typeof payload.seq === "number") {
        const row: Row = { seqStart: payload.seq, seqEnd: payload.seq, item: payload.event.item, epoch: payload.epoch };
        if (held.current) {
          held.current.push(row);
          return;
        }
        if (cursor.current && payload.epoch !== cursor.current.epoch) return; // another epoch: the next catch-up reloads
        setRows((current) => appendRows(current, [row]));
        cursor.current = { epoch: payload.epoch, seq: payload.seq };
      } else if (type === "agent_permission_request") {
        setPermissions((current) => [...current.filter((p) => p.id !== payload.request.id), payload.request]);
      } else if (type === "agent_permission_resolved") {
        setPermissions((current) => current.filter((p) => p.id !== payload.requestId));
      }
    });
    return () => {
      offOnline();
      offPush();
    };
  }, [client, agentId]);

  useEffect(() => bottom.current?.scrollIntoView({ block: "end" }), [rows.length]);

  const act = (work: Promise<unknown>) => work.catch((e) => setError((e as Error).message));
  const loadEarlier = () => {
    if (!older) return;
    setLoadingOlder(true);
    client.request("fetch_agent_timeline_request", { agentId, direction: "before", cursor: older, limit: 200 })
      .then((page) => {
        if (page.error) throw new Error(page.error);
        const earlier: Row[] = (page.entries as Json[]).map((e) => ({ seqStart: e.seqStart, seqEnd: e.seqEnd, item: e.item }));
        // Older rows first, then those shown: text split across the boundary joins up as it does live.
        setRows((current) => appendRows(earlier, current));
        setOlder(page.hasOlder === true && page.startCursor ? page.startCursor : null);
      })
      .catch((e) => setError((e as Error).message))
      .finally(() => setLoadingOlder(false));
  };
  const send = () => {
    const text = prompt.trim();
    if (!text) return;
    const kept = images;
    const attached = images.map(({ data, mimeType }) => ({ data, mimeType }));
    setPrompt("");
    setImages([]);
    setError(null);
    // Not taken (offline, refused): what was typed comes back, so nothing is lost.
    const restore = (reason: string) => {
      setPrompt((current) => current || text);
      setImages((current) => (current.length > 0 ? current : kept));
      setError(reason);
    };
    client.request("send_agent_message_request", { agentId, text, messageId: randomId(), ...(attached.length > 0 ? { images: attached } : {}) })
      .then((r) => {
        if (r.accepted === false) restore(r.error ?? "The agent did not take the message");
      })
      .catch((e) => restore((e as Error).message));
  };
  const answer = (permission: Json, behavior: "allow" | "deny", selectedActionId?: string) => {
    const response = selectedActionId ? { behavior, selectedActionId } : { behavior };
    // Offline, the answer is not sent: the prompt stays, to be answered once the phone is back.
    if (!client.tell("agent_permission_response", { agentId, requestId: permission.id, response })) {
      setError("Not connected: the answer was not sent");
      return;
    }
    setPermissions((current) => current.filter((p) => p.id !== permission.id));
  };
  const modes: Json[] = agent?.availableModes ?? [];
  return (
    <main class="agent">
      <div class="toolbar">
        <h1>{agent?.title ?? agentId.slice(0, 7)}</h1>
        <span class={`status status-${agent?.status}`} data-testid="agent-status">{agent?.status ?? "…"}</span>
      </div>
      <div class="controls">
        {modes.length > 0 && (
          <select aria-label="Mode" value={agent?.currentModeId ?? ""} onChange={(e) => act(client.request("set_agent_mode_request", { agentId, modeId: (e.target as HTMLSelectElement).value }))}>
            {modes.map((m) => <option key={m.id} value={m.id}>{m.label ?? m.id}</option>)}
          </select>
        )}
        <button onClick={() => act(client.request("cancel_agent_request", { agentId }))} disabled={agent?.status !== "running"}>Cancel</button>
        <button onClick={() => act(client.request("archive_agent_request", { agentId }))}>Archive</button>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {older && <button class="earlier" onClick={loadEarlier} disabled={loadingOlder}>Load earlier</button>}
      <ol class="timeline" data-sync={syncing ? "catching-up" : "live"}>
        {rows.map((row) => <TimelineRow key={row.seqStart} item={row.item} />)}
      </ol>
      <div ref={bottom} />
      {permissions.map((permission) => (
        <section class="permission" key={permission.id} role="alertdialog" aria-label={permission.title ?? "Permission"}>
          <strong>{permission.title ?? permission.name}</strong>
          {permission.description && <p>{permission.description}</p>}
          <PermissionDetail permission={permission} />
          <div class="buttons">
            {(permission.actions as Json[] | undefined)?.map((a) => (
              <button key={a.id} onClick={() => answer(permission, a.behavior === "deny" ? "deny" : "allow", a.id)}>{a.label ?? a.id}</button>
            )) ?? [
              <button key="allow" class="primary" onClick={() => answer(permission, "allow")}>Allow</button>,
              <button key="deny" onClick={() => answer(permission, "deny")}>Deny</button>,
            ]}
          </div>
        </section>
      ))}
      <form class="prompt" onSubmit={(e) => { e.preventDefault(); send(); }}>
        <label class="attach" title="Attach images">
          <span aria-hidden="true">＋</span>
          <input type="file" accept={ImageTypes.join(",")} multiple aria-label="Attach images"
            onChange={(e) => readImages((e.target as HTMLInputElement).files).then(setImages).catch((x) => setError((x as Error).message))} />
        </label>
        <div class="compose">
          {images.length > 0 && <span class="chip" data-testid="attached">{images.length === 1 ? images[0].name : `${images.length} images`}</span>}
          <textarea aria-label="Message" rows={2} value={prompt} onInput={(e) => setPrompt((e.target as HTMLTextAreaElement).value)} placeholder="Message the agent" />
        </div>
        <button class="primary" type="submit" disabled={!prompt.trim()}>Send</button>
      </form>
    </main>
  );
}

/** What the permission would let the agent do: the command, the file and its change, or the raw input. */
function PermissionDetail({ permission }: { permission: Json }) {
  const d = permission.detail ?? {};
  if (d.type === "shell" && d.command) return <pre class="detail">$ {d.command}</pre>;
  if (d.type === "edit") return <pre class="diff">{`${d.filePath ?? ""}\n- ${d.oldString ?? ""}\n+ ${d.newString ?? ""}`}</pre>;
  if (d.filePath) return <pre class="detail">{d.type} {d.filePath}</pre>;
  if (permission.input && Object.keys(permission.input).length > 0) return <pre class="detail">{JSON.stringify(permission.input, null, 2)}</pre>;
  return null;
}

function TimelineRow({ item }: { item: Json }) {
  switch (item.type) {
    case "user_message":
      return <li class="row-user">{item.text}</li>;
    case "assistant_message":
      return <li class="row-assistant">{item.text}</li>;
    case "reasoning":
      return <li class="row-reasoning"><details><summary>Thinking</summary>{item.text}</details></li>;
    case "tool_call": {
      const d = item.detail ?? {};
      const what = d.type === "shell" ? `$ ${d.command}` : d.filePath ? `${d.type} ${d.filePath}` : item.name;
      return (
        <li class={`row-tool tool-${item.status}`}>
          <details>
            <summary>{what} <span class="muted">[{item.status}]</span></summary>
            {d.output && <pre>{d.output}</pre>}
            {d.type === "edit" && (d.oldString || d.newString) && <pre class="diff">{`- ${d.oldString ?? ""}\n+ ${d.newString ?? ""}`}</pre>}
            {item.error && <p class="error">{typeof item.error === "string" ? item.error : JSON.stringify(item.error)}</p>}
          </details>
        </li>
      );
    }
    case "todo":
      return <li class="row-todo"><ul>{(item.items as Json[]).map((t, i) => <li key={i} class={t.completed ? "done" : ""}>{t.text}</li>)}</ul></li>;
    case "error":
      return <li class="row-error error">{item.message}</li>;
    default:
      return <li class="row-other muted">{item.type}</li>;
  }
}

function NewAgent({ client, created }: { client: DaemonClient; created(id: string): void }) {
  const [providers, setProviders] = useState<Json[]>([]);
  const [provider, setProvider] = useState("");
  const [model, setModel] = useState("");
  const [mode, setMode] = useState("");
  const [cwd, setCwd] = useState("");
  const [suggestions, setSuggestions] = useState<string[]>([]);
  const [prompt, setPrompt] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => client.onOnline(() => {
    client.request("get_providers_snapshot_request", {}).then((snapshot) => {
      const ready = (snapshot.entries as Json[]).filter((p) => p.status === "ready" && p.enabled !== false);
      setProviders(ready);
      setProvider((current) => current || ready[0]?.provider || "");
    }).catch((e) => setError((e as Error).message));
  }), [client]);
  const chosen = useMemo(() => providers.find((p) => p.provider === provider), [providers, provider]);
  useEffect(() => {
    setMode(chosen?.defaultModeId ?? "");
    setModel("");
  }, [chosen]);
  // Directories under the daemon user's home as the path is typed (where the daemon serves them).
  useEffect(() => {
    if (cwd.trim().length < 2) return;
    let current = true; // an answer to an older query is dropped
    const timer = setTimeout(() => {
      client.request("directory_suggestions_request", { query: cwd, includeDirectories: true, includeFiles: false, limit: 20 })
        .then((r) => current && setSuggestions((r.directories as string[] | undefined) ?? []))
        .catch(() => current && setSuggestions([]));
    }, 200);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [client, cwd]);
  const create = () => {
    setBusy(true);
    const config: Json = { provider, cwd };
    if (mode) config.modeId = mode;
    if (model) config.model = model;
    client.request("create_agent_request", { config, initialPrompt: prompt || undefined, labels: {} }, 70_000)
      .then((r) => {
        if (r.type === "agent_created") created(r.agentId);
        else setError(r.error ?? "The daemon did not create the agent");
      })
      .catch((e) => setError((e as Error).message))
      .finally(() => setBusy(false));
  };
  return (
    <main class="new">
      <h1>New agent</h1>
      <label>Provider
        <select aria-label="Provider" value={provider} onChange={(e) => setProvider((e.target as HTMLSelectElement).value)}>
          {providers.map((p) => <option key={p.provider} value={p.provider}>{p.label ?? p.provider}</option>)}
        </select>
      </label>
      {(chosen?.models as Json[] | undefined)?.length ? (
        <label>Model
          <select aria-label="Model" value={model} onChange={(e) => setModel((e.target as HTMLSelectElement).value)}>
            <option value="">Default</option>
            {(chosen!.models as Json[]).map((m) => <option key={m.id} value={m.id}>{m.label ?? m.id}</option>)}
          </select>
        </label>
      ) : null}
      {(chosen?.modes as Json[] | undefined)?.length ? (
        <label>Mode
          <select aria-label="Mode" value={mode} onChange={(e) => setMode((e.target as HTMLSelectElement).value)}>
            {(chosen!.modes as Json[]).map((m) => <option key={m.id} value={m.id}>{m.label ?? m.id}</option>)}
          </select>
        </label>
      ) : null}
      <label>Working directory
        <input aria-label="Working directory" list="directories" value={cwd} onInput={(e) => setCwd((e.target as HTMLInputElement).value)} placeholder="/home/you/project" />
        <datalist id="directories">{suggestions.map((d) => <option key={d} value={d} />)}</datalist>
      </label>
      <label>First message
        <textarea aria-label="First message" rows={3} value={prompt} onInput={(e) => setPrompt((e.target as HTMLTextAreaElement).value)} />
      </label>
      <button class="primary" onClick={create} disabled={busy || !provider || !cwd.trim()}>Create</button>
      {error && <p class="error" role="alert">{error}</p>}
    </main>
  );
}
