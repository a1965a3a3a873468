// Access keys: long-lived API credentials. The token is shown once; only its SHA-256 is kept.
import { randomUUID } from "node:crypto";
import type {
  AccessKey,
  CreateAccessKeyBody,
  CreatedAccessKey,
  UpdateAccessKeyBody,
} from "../contract/access-key.js";
import type { Page, PageQuery } from "../contract/common.js";
import type { AccessKeyRow, AccessKeyStore } from "../store/ports.js";
import { apiTime, type Clock, formatMicros, parseTimestamp } from "../util/time.js";
import { auditOf, cliAudit } from "./audit.js";
import { checkNameAndDetail } from "./check-text.js";
import { invalidArgument, notFound } from "./errors.js";
import { requireUuid } from "./ids.js";
import { parsePage, toPage } from "./paging.js";
import { type Principal, requireRole } from "./principal.js";
import { randomSecret, sha256Hex } from "./secrets.js";
import { insertWithUniqueTime } from "./unique-time.js";

/** Every access key starts with this, so a Bearer value is told apart from a JWT at a glance. */
export const ACCESS_KEY_PREFIX = "sxk_";
const PREFIX_SHOWN = ACCESS_KEY_PREFIX.length + 8;
export const DEFAULT_EXPIRE_S = 365 * 24 * 3600;
export const MAX_EXPIRE_S = 10 * 365 * 24 * 3600;

const view = (r: AccessKeyRow): AccessKey => ({
  id: r.id,
  customer_id: r.customer_id,
  name: r.name,
  detail: r.detail,
  token_prefix: r.token_prefix,
  tm_expire: r.tm_expire,
  tm_create: r.tm_create,
  tm_update: apiTime(r.tm_update),
  tm_delete: apiTime(r.tm_delete),
});

export function accessKeyService(deps: { accessKeys: AccessKeyStore; clock: Clock }) {
  const { accessKeys, clock } = deps;
  const ADMIN = ["admin"] as const;

  async function loadLive(p: Principal, id: string): Promise<AccessKeyRow> {
    requireRole(p, ADMIN);
    const row = await accessKeys.get(p.customerId, requireUuid("id", id));
    if (!row || row.tm_delete !== null) throw notFound("accesskey");
    return row;
  }

  return {
    /** Creates a key for the caller's customer (`customerId` for the CLI, which has no caller). */
    async create(
      p: Principal | { customerId: string },
      input: CreateAccessKeyBody,
    ): Promise<CreatedAccessKey> {
      if ("role" in p) requireRole(p as Principal, ADMIN);
      checkNameAndDetail(input);
      const expire = input.expire ?? DEFAULT_EXPIRE_S;
      if (!Number.isInteger(expire) || expire < 1 || expire > MAX_EXPIRE_S) {
        throw invalidArgument("expire", `must be a whole number of seconds from 1 to ${MAX_EXPIRE_S}`);
      }
      const token = `${ACCESS_KEY_PREFIX}${randomSecret(32)}`;
      const now = clock();
      const row: AccessKeyRow = {
        id: randomUUID(),
        customer_id: p.customerId,
        name: input.name ?? "",
        detail: input.detail ?? "",
        token_hash: sha256Hex(token),
        token_prefix: token.slice(0, PREFIX_SHOWN),
        tm_expire: formatMicros(now + expire * 1_000_000),
        tm_create: formatMicros(now),
        tm_update: null,
        tm_delete: null,
      };
      const actor =
        "role" in p ? auditOf(p as Principal, "", { targetId: row.id }, row.tm_create) : undefined;
      const record = {
        ...(actor ?? cliAudit("", row.id, [], row.tm_create)),
        action: "accesskey_created",
        targetId: row.id,
        fields: ["token"],
      };
      await insertWithUniqueTime(row, accessKeys, undefined, undefined, record);
      return { ...view(row), token };
    },

    async list(p: Principal, q: PageQuery): Promise<Page<AccessKey>> {
      requireRole(p, ADMIN);
      return toPage(await accessKeys.list(p.customerId, parsePage(q.page_size, q.page_token)), view);
    },

    async get(p: Principal, id: string): Promise<AccessKey> {
      requireRole(p, ADMIN);
      const row = await accessKeys.get(p.customerId, requireUuid("id", id));
      if (!row) throw notFound("accesskey");
      return view(row);
    },

    async update(p: Principal, id: string, input: UpdateAccessKeyBody): Promise<AccessKey> {
      checkNameAndDetail(input);
      const row = await loadLive(p, id);
      const changes: Partial<AccessKeyRow> = {};
      if (input.name !== undefined) changes.name = input.name;
      if (input.detail !== undefined) changes.detail = input.detail;
      const tm_update = formatMicros(clock());
      if (!(await accessKeys.update(p.customerId, row.id, { ...changes, tm_update })))
        throw notFound("accesskey");
      return view({ ...row, ...changes, tm_update });
    },

    async remove(p: Principal, id: string): Promise<AccessKey> {
      const row = await loadLive(p, id);
      const now = formatMicros(clock());
      const record = auditOf(p, "accesskey_revoked", { targetId: row.id, fields: ["tm_delete"] }, now);
      if (
        !(await accessKeys.update(
          p.customerId,
          row.id,
          { tm_update: now, tm_delete: now },
          undefined,
          record,
        ))
      ) {
        throw notFound("accesskey");
      }
      return view({ ...row, tm_update: now, tm_delete: now });
    },

    /** The identity behind a token, or undefined when it is unknown, deleted or expired. */
    async authenticate(token: string): Promise<Principal | undefined> {
      if (!token.startsWith(ACCESS_KEY_PREFIX) || token.length > 128) return undefined;
      const row = await accessKeys.getByTokenHash(sha256Hex(token));
      if (!row || row.tm_delete !== null) return undefined;
      if ((parseTimestamp(row.tm_expire) ?? 0) <= clock()) return undefined;
      // An access key acts for its whole customer, as a VoIPbin access key does.
      return {
        kind: "accesskey",
        id: row.id,
        customerId: row.customer_id,
        role: "admin",
        actor: row.token_prefix,
      };
    },

    view,
  };
}

export type AccessKeyService = ReturnType<typeof accessKeyService>;
