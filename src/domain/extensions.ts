// Extensions: SIP credentials + address of record + direct URI, one customer's at a time.
import { randomUUID } from "node:crypto";
import type { DomainStore, ExtensionRow, ExtensionStore, ExtensionView } from "../store/ports.js";
import { apiTime, type Clock, formatMicros } from "../util/time.js";
import { DomainError, invalidArgument, notFound } from "./errors.js";
import {
  DETAIL_MAX,
  EXTENSION_PATTERN,
  EXTENSION_RULE,
  NAME_MAX,
  PASSWORD_PATTERN,
  PASSWORD_RULE,
} from "./extension-rules.js";
import { requireUuid } from "./ids.js";
import { type Page, parsePage, toPage } from "./paging.js";
import { type Principal, requireRole } from "./principal.js";
import { digestHa1, generatePassword, newDirectHash, type Sealer } from "./secrets.js";
import { insertWithUniqueTime } from "./unique-time.js";

/** The API object; keys in the order of CONTRACT §6. */
export interface Extension {
  id: string;
  customer_id: string;
  name: string;
  detail: string;
  domain_id: string;
  extension: string;
  domain_name: string;
  username: string;
  password: string;
  direct_hash: string;
  tm_create: string;
  tm_update: string;
  tm_delete: string;
}

export interface CreateExtension {
  name?: string | undefined;
  detail?: string | undefined;
  extension: string;
  password?: string | undefined;
  domain_id?: string | undefined;
}

export interface UpdateExtension {
  name?: string | undefined;
  detail?: string | undefined;
  password?: string | undefined;
}

export interface ListExtensions {
  page_size?: string | undefined;
  page_token?: string | undefined;
  domain_id?: string | undefined;
}

/** Told when an extension stops being able to register (deleted): the registrar drops its bindings. */
export type ExtensionListener = (event: {
  type: "deleted" | "credentials-changed";
  ext: ExtensionView;
}) => void;

export interface ExtensionServiceDeps {
  extensions: ExtensionStore;
  domains: DomainStore;
  sealer: Sealer;
  clock: Clock;
  showPasswords: boolean;
  listeners?: ExtensionListener[];
}

const MANAGERS = ["admin", "manager"] as const;
const EXT_RE = new RegExp(EXTENSION_PATTERN);
const PW_RE = new RegExp(PASSWORD_PATTERN);

function checkText(field: string, v: string | undefined, max: number): void {
  if (v === undefined) return;
  // Characters are code points (as the schema's maxLength counts them), not UTF-16 units.
  if ([...v].length > max) throw invalidArgument(field, `must be at most ${max} characters`);
  // PostgreSQL text cannot hold NUL: refuse it on every database rather than fail with 500.
  if (v.includes("\u0000")) throw invalidArgument(field, "must not contain the NUL character (U+0000)");
}

function checkPassword(v: string | undefined): void {
  if (v !== undefined && !PW_RE.test(v)) throw invalidArgument("password", `must be ${PASSWORD_RULE}`);
}

export function extensionService(deps: ExtensionServiceDeps) {
  const { extensions, domains, sealer, clock, showPasswords } = deps;
  const listeners = deps.listeners ?? [];

  function view(row: ExtensionView, shownPassword?: string): Extension {
    let password = "";
    if (shownPassword !== undefined) password = shownPassword;
    else if (showPasswords && row.password_enc) password = sealer.open(row.password_enc);
    return {
      id: row.id,
      customer_id: row.customer_id,
      name: row.name,
      detail: row.detail,
      domain_id: row.domain_id,
      extension: row.extension,
      domain_name: row.domain_name,
      username: row.extension,
      password,
      direct_hash: row.direct_hash,
      tm_create: row.tm_create,
      tm_update: apiTime(row.tm_update),
      tm_delete: apiTime(row.tm_delete),
    };
  }

  /** What is stored for a password: the two HA1 values, and the sealed password while shown. */
  function passwordColumns(extension: string, realm: string, password: string) {
    const ha1 = digestHa1(extension, realm, password);
    return {
      ha1_md5: ha1.md5,
      ha1_sha256: ha1.sha256,
      password_enc: showPasswords ? sealer.seal(password) : null,
    };
  }

  async function load(p: Principal, id: string): Promise<ExtensionView> {
    requireRole(p, MANAGERS);
    const row = await extensions.get(p.customerId, requireUuid("id", id));
    if (!row) throw notFound("extension");
    return row;
  }

  async function loadLive(p: Principal, id: string): Promise<ExtensionView> {
    const row = await load(p, id);
    if (row.tm_delete !== null) throw notFound("extension");
    return row;
  }

  /** Writes a patch to a live extension; a concurrent delete turns into 404. */
  async function patch(
    p: Principal,
    row: ExtensionView,
    changes: Partial<ExtensionRow>,
  ): Promise<ExtensionView> {
    const tm_update = formatMicros(clock());
    const ok = await extensions.update(p.customerId, row.id, { ...changes, tm_update });
    if (!ok) throw notFound("extension");
    return { ...row, ...changes, tm_update };
  }

  return {
    view,

    async create(p: Principal, input: CreateExtension): Promise<Extension> {
      requireRole(p, MANAGERS);
      if (!EXT_RE.test(input.extension)) throw invalidArgument("extension", `must be ${EXTENSION_RULE}`);
      checkPassword(input.password);
      checkText("name", input.name, NAME_MAX);
      checkText("detail", input.detail, DETAIL_MAX);
      const [domain] = await domains.listByCustomer(p.customerId, { limit: 1 });
      if (!domain) throw notFound("domain");
      if (input.domain_id !== undefined && input.domain_id !== "") {
        const asked = requireUuid("domain_id", input.domain_id);
        const own = await domains.get(p.customerId, asked);
        if (!own || own.tm_delete !== null) {
          throw invalidArgument("domain_id", "is not a domain of this customer");
        }
      }
      const password = input.password ?? generatePassword();
      const row: ExtensionRow = {
        id: randomUUID(),
        customer_id: p.customerId,
        domain_id: domain.id,
        name: input.name ?? "",
        detail: input.detail ?? "",
        extension: input.extension,
        ...passwordColumns(input.extension, domain.domain_name, password),
        direct_hash: newDirectHash(),
        tm_create: formatMicros(clock()),
        tm_update: null,
        tm_delete: null,
      };
      await insertWithUniqueTime(
        row,
        (r) => extensions.insert(r),
        () => extensions.latestTmCreate(p.customerId),
        (field) => {
          if (field === "extension") {
            throw new DomainError(
              "ALREADY_EXISTS",
              "EXTENSION_ALREADY_EXISTS",
              `extension: "${input.extension}" already exists`,
            );
          }
          if (field !== "direct_hash") return false;
          row.direct_hash = newDirectHash();
          return true;
        },
      );
      return view({ ...row, domain_name: domain.domain_name }, password);
    },

    async list(p: Principal, q: ListExtensions): Promise<Page<Extension>> {
      requireRole(p, MANAGERS);
      const page = parsePage(q.page_size, q.page_token);
      if (q.domain_id !== undefined && q.domain_id !== "") {
        const domain = await domains.get(p.customerId, requireUuid("domain_id", q.domain_id));
        if (!domain) return { result: [], next_page_token: "" };
      }
      return toPage(await extensions.list(p.customerId, page), (r) => view(r));
    },

    async get(p: Principal, id: string): Promise<Extension> {
      return view(await load(p, id));
    },

    async update(p: Principal, id: string, input: UpdateExtension): Promise<Extension> {
      checkPassword(input.password);
      checkText("name", input.name, NAME_MAX);
      checkText("detail", input.detail, DETAIL_MAX);
      const row = await loadLive(p, id);
      const changes: Partial<ExtensionRow> = {};
      if (input.name !== undefined) changes.name = input.name;
      if (input.detail !== undefined) changes.detail = input.detail;
      if (input.password !== undefined) {
        Object.assign(changes, passwordColumns(row.extension, row.domain_name, input.password));
      }
      const updated = await patch(p, row, changes);
      if (input.password !== undefined)
        for (const l of listeners) l({ type: "credentials-changed", ext: updated });
      return view(updated, input.password);
    },

    async remove(p: Principal, id: string): Promise<Extension> {
      const row = await loadLive(p, id);
      const now = formatMicros(clock());
      const ok = await extensions.update(p.customerId, row.id, { tm_update: now, tm_delete: now });
      if (!ok) throw notFound("extension");
      const deleted = { ...row, tm_update: now, tm_delete: now };
      for (const l of listeners) l({ type: "deleted", ext: deleted });
      return view(deleted);
    },

    async regenerateDirectHash(p: Principal, id: string): Promise<Extension> {
      const row = await loadLive(p, id);
      for (let attempt = 1; ; attempt++) {
        try {
          return view(await patch(p, row, { direct_hash: newDirectHash() }));
        } catch (err) {
          // Another extension holds that hash (one chance in 2^48): draw again.
          if (attempt >= 5 || !(err instanceof Error) || err.name !== "UniqueViolationError") throw err;
        }
      }
    },
  };
}

export type ExtensionService = ReturnType<typeof extensionService>;
