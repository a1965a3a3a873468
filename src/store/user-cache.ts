// A read-through memory cache of users by id, in front of the embedded SQLite store: every
// request with a login token checks that the token's user still has the token_version it was
// issued under (CONTRACT §14), and that read would otherwise cost about a quarter of a GET
// /v1.0/extensions/{id}.
//
// Unlike extensions, users are also written by another process (the CLI's `users
// reset-password`), so the cache is dropped whenever SQLite's data_version says another
// connection has committed. That check itself costs a few microseconds, so it runs at most once
// per `probeEveryMs` (1 ms): a change the CLI commits is seen by every request that starts more
// than a millisecond later. This process's own writes drop the row they touch at once.
import type { Patch, UserRow, UserStore } from "./ports.js";

export interface UserCacheOptions {
  /** rows kept; past it the cache starts again empty */
  maxRows?: number;
  probeEveryMs?: number;
  now?: () => number;
}

export function cachingUserStore(
  inner: UserStore,
  dataVersion: () => number,
  { maxRows = 16_384, probeEveryMs = 1, now = () => performance.now() }: UserCacheOptions = {},
): UserStore {
  const rows = new Map<string, UserRow>();
  let version = dataVersion();
  let probedAt = now();
  // Bumped by every write and every drop: a read that started before one does not cache what
  // it read, which may be the row as it was before.
  let generation = 0;

  function dropIfOthersWrote(): void {
    const t = now();
    if (t - probedAt < probeEveryMs) return;
    probedAt = t;
    const v = dataVersion();
    if (v !== version) {
      version = v;
      rows.clear();
      generation++;
    }
  }

  async function write<T>(id: string, work: () => Promise<T>): Promise<T> {
    rows.delete(id);
    generation++;
    try {
      return await work();
    } finally {
      rows.delete(id);
      generation++;
    }
  }

  return {
    insert: (row) => write(row.id, () => inner.insert(row)),
    async get(id) {
      dropIfOthersWrote();
      const hit = rows.get(id);
      if (hit) return hit;
      const startedAt = generation;
      const row = await inner.get(id);
      if (row && generation === startedAt) {
        if (rows.size >= maxRows) rows.clear();
        rows.set(id, row);
      }
      return row;
    },
    getByUsername: (username) => inner.getByUsername(username),
    listByCustomer: (customerId, page) => inner.listByCustomer(customerId, page),
    updateRevokingTokens: (
      id: string,
      patch: Patch<UserRow>,
      audit?: Parameters<UserStore["updateRevokingTokens"]>[2],
    ) => write(id, () => inner.updateRevokingTokens(id, patch, audit)),
  };
}
