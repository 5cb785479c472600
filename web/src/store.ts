// What the phone keeps (IndexedDB, this origin only): the daemons it paired with and its client id. Never a message,
// never a session key (those live in memory, one per connection).
import type { SavedDaemon } from "./client";
import { randomId } from "./e2ee";

const DbName = "paseo-net";
const Store = "state";

function db(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DbName, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(Store);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function get<T>(key: string): Promise<T | undefined> {
  const database = await db();
  return new Promise((resolve, reject) => {
    const request = database.transaction(Store).objectStore(Store).get(key);
    request.onsuccess = () => resolve(request.result as T | undefined);
    request.onerror = () => reject(request.error);
  });
}

async function put(key: string, value: unknown): Promise<void> {
  const database = await db();
  return new Promise((resolve, reject) => {
    const transaction = database.transaction(Store, "readwrite");
    transaction.objectStore(Store).put(value, key);
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
  });
}

export const loadDaemons = async (): Promise<SavedDaemon[]> => (await get<SavedDaemon[]>("daemons")) ?? [];

export async function saveDaemon(daemon: SavedDaemon): Promise<SavedDaemon[]> {
  const daemons = (await loadDaemons()).filter((d) => d.id !== daemon.id);
  daemons.unshift(daemon);
  await put("daemons", daemons);
  return daemons;
}

export async function forgetDaemon(id: string): Promise<SavedDaemon[]> {
  const daemons = (await loadDaemons()).filter((d) => d.id !== id);
  await put("daemons", daemons);
  return daemons;
}

/** This browser's client id (one session per browser on each daemon, resumed across reconnects). */
export async function clientId(): Promise<string> {
  const known = await get<string>("clientId");
  if (known) return known;
  const id = `cid_web_${randomId(8)}`;
  await put("clientId", id);
  return id;
}
