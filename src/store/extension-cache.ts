// A read-through memory cache in front of an ExtensionStore, for the hot reads: GET
// /v1.0/extensions/{id}, the registrar's credential lookup per REGISTER, the proxy's
// direct-hash lookup per INVITE, and the rows of a page of GET /v1.0/extensions. On SQLite each
// of those reads costs three system calls for the WAL read lock alone (more than the rest of the
// query), and the rows change rarely.
//
// Every write made through `insert`/`update` here drops the row it touches. The embedded SQLite
// database has one server per data directory, but the `sipext` command (CONTRACT §16) writes
// extensions from another process: given SQLite's data_version (which moves when another
// connection commits), the whole cache is dropped when it moved, probed at most once per
// millisecond as the user cache does. On PostgreSQL, which several nodes share, the version is
// a ChangeFeed (change-feed.ts) moved by the deployment bus whenever any writer commits a change to
// extensions (migration 009's trigger), and always moving while the bus is not heard.
import type { ExtensionStore, ExtensionView } from "./ports.js";

/** Rows kept (about 0.6 KiB each); past it the row cached first goes first. */
export const EXTENSION_CACHE_ROWS = 16_384;

const nameKey = (customerId: string, extension: string) => `${customerId}\n${extension}`;

export function cachingExtensionStore(
  inner: ExtensionStore,
  maxRows: number = EXTENSION_CACHE_ROWS,
  dataVersion?: () => number,
  now: () => number = () => performance.now(),
): ExtensionStore {
  const rows = new Map<string, ExtensionView>();
  // Secondary indexes hold live rows only, and only while `rows` holds them.
  const idByName = new Map<string, string>();
  const idByHash = new Map<string, string>();
  // Bumped by every write: a read that started before a write does not cache what it read,
  // which may be the row as it was before that write.
  let writes = 0;

  function drop(id: string): void {
    const row = rows.get(id);
    if (!row) return;
    rows.delete(id);
    if (idByName.get(nameKey(row.customer_id, row.extension)) === id) {
      idByName.delete(nameKey(row.customer_id, row.extension));
    }
    if (idByHash.get(row.direct_hash) === id) idByHash.delete(row.direct_hash);
  }

  let version = dataVersion?.();
  let probedAt = now();
  /** Another process (the CLI) committed since the last probe: nothing cached can be trusted. */
  function dropIfOthersWrote(): void {
    if (!dataVersion || now() - probedAt < 1) return;
    probedAt = now();
    const v = dataVersion();
    if (v === version) return;
    version = v;
    rows.clear();
    idByName.clear();
    idByHash.clear();
    writes++;
  }

  function keep(row: ExtensionView | undefined, readStartedAt: number): void {
    if (!row || writes !== readStartedAt) return;
    drop(row.id);
    if (rows.size >= maxRows) {
      const oldest = rows.keys().next().value;
      if (oldest !== undefined) drop(oldest);
    }
    rows.set(row.id, row);
    if (row.tm_delete === null) {
      idByName.set(nameKey(row.customer_id, row.extension), row.id);
      idByHash.set(row.direct_hash, row.id);
    }
  }

  async function readThrough(read: () => Promise<ExtensionView | undefined>) {
    const startedAt = writes;
    const row = await read();
    keep(row, startedAt);
    return row;
  }

  const live = (id: string | undefined) => {
    const row = id === undefined ? undefined : rows.get(id);
    return row && row.tm_delete === null ? row : undefined;
  };

  return {
    async insert(row, event, audit) {
      writes++;
      drop(row.id);
      try {
        return await inner.insert(row, event, audit);
      } finally {
        writes++;
      }
    },
    async update(customerId, id, patch, event, audit) {
      writes++;
      drop(id);
      try {
        return await inner.update(customerId, id, patch, event, audit);
      } finally {
        // A read that ran while the write was in flight must not cache either.
        writes++;
      }
    },
    get(customerId, id) {
      dropIfOthersWrote();
      const row = rows.get(id);
      if (row) return Promise.resolve(row.customer_id === customerId ? row : undefined);
      return readThrough(() => inner.get(customerId, id));
    },
    getLiveByName(customerId, extension) {
      dropIfOthersWrote();
      const row = live(idByName.get(nameKey(customerId, extension)));
      if (row && row.customer_id === customerId && row.extension === extension) return Promise.resolve(row);
      return readThrough(() => inner.getLiveByName(customerId, extension));
    },
    getLiveByDirectHash(hash) {
      dropIfOthersWrote();
      const row = live(idByHash.get(hash));
      if (row && row.direct_hash === hash) return Promise.resolve(row);
      return readThrough(() => inner.getLiveByDirectHash(hash));
    },
    /**
     * A page is its ids (one narrow query) and the rows from here, the missing ones read in one
     * more: turning a hundred rows of fourteen columns into objects cost more than the rest of
     * GET /v1.0/extensions (BENCHMARKS.md, API).
     */
    async list(customerId, page) {
      dropIfOthersWrote();
      const startedAt = writes;
      const ids = await inner.listIds(customerId, page);
      const found = new Map<string, ExtensionView>();
      const missing: string[] = [];
      for (const id of ids) {
        const row = rows.get(id);
        if (row && row.customer_id === customerId) found.set(id, row);
        else missing.push(id);
      }
      for (const row of await inner.getMany(customerId, missing)) {
        found.set(row.id, row);
        keep(row, startedAt);
      }
      // A row deleted between the two reads is left out, as a later page would leave it out.
      return ids.flatMap((id) => {
        const row = found.get(id);
        return row && row.tm_delete === null ? [row] : [];
      });
    },
    listIds: (customerId, page) => inner.listIds(customerId, page),
    getMany: (customerId, ids) => inner.getMany(customerId, ids),
    latestTmCreate: (customerId) => inner.latestTmCreate(customerId),
  };
}
