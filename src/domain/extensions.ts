// Extensions: SIP credentials + address of record + direct URI, one customer's at a time.
import { randomUUID } from "node:crypto";
import type { Page } from "../contract/common.js";
import {
  type CreateExtensionBody,
  EXTENSION_PATTERN,
  EXTENSION_RULE,
  type Extension,
  type ExtensionListQuery,
  PASSWORD_PATTERN,
  PASSWORD_RULE,
  type UpdateExtensionBody,
} from "../contract/extension.js";
import type { DomainStore, ExtensionRow, ExtensionStore, ExtensionView } from "../store/ports.js";
import { apiTime, type Clock, formatMicros } from "../util/time.js";
import { auditOf } from "./audit.js";
import { checkNameAndDetail } from "./check-text.js";
import { DomainError, invalidArgument, notFound } from "./errors.js";
import { requireUuid } from "./ids.js";
import { parsePage, toPage } from "./paging.js";
import { type Principal, requireRole } from "./principal.js";
import { digestHa1, generatePassword, newDirectHash, type Sealer } from "./secrets.js";
import { insertWithUniqueTime } from "./unique-time.js";

export type { Extension } from "../contract/extension.js";

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

/** The names of the fields a create or update body set (CONTRACT §17: names, never values). */
const given = (input: { name?: string; detail?: string; password?: string }) =>
  (["name", "detail", "password"] as const).filter((k) => input[k] !== undefined);

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
    type: "extension_updated" | "extension_deleted" = "extension_updated",
    tm_update = formatMicros(clock()),
    audit: { action: string; fields: readonly string[] } = { action: type, fields: Object.keys(changes) },
  ): Promise<ExtensionView> {
    const next: ExtensionView = { ...row, ...changes, tm_update };
    // The event carries the extension as the API shows it, never its password (CONTRACT §11).
    const event = { type, data: view(next, ""), tmCreate: tm_update };
    const record = auditOf(p, audit.action, { extensionId: row.id, targetId: row.id, ...audit }, tm_update);
    const ok = await extensions.update(p.customerId, row.id, { ...changes, tm_update }, event, record);
    if (!ok) throw notFound("extension");
    return next;
  }

  return {
    view,

    async create(p: Principal, input: CreateExtensionBody): Promise<Extension> {
      requireRole(p, MANAGERS);
      if (!EXT_RE.test(input.extension)) throw invalidArgument("extension", `must be ${EXTENSION_RULE}`);
      checkPassword(input.password);
      checkNameAndDetail(input);
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
      const created = (r: ExtensionRow) => ({
        type: "extension_created",
        data: view({ ...r, domain_name: domain.domain_name }, ""),
        tmCreate: r.tm_create,
      });
      await insertWithUniqueTime(
        row,
        extensions,
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
        created,
        // The fields the caller set; the password is named (a generated one too), never shown.
        auditOf(
          p,
          "extension_created",
          {
            extensionId: row.id,
            targetId: row.id,
            fields: [...new Set(["extension", "password", ...given(input)])],
          },
          row.tm_create,
        ),
      );
      return view({ ...row, domain_name: domain.domain_name }, password);
    },

    async list(p: Principal, q: ExtensionListQuery): Promise<Page<Extension>> {
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

    async update(p: Principal, id: string, input: UpdateExtensionBody): Promise<Extension> {
      checkPassword(input.password);
      checkNameAndDetail(input);
      const row = await loadLive(p, id);
      const changes: Partial<ExtensionRow> = {};
      if (input.name !== undefined) changes.name = input.name;
      if (input.detail !== undefined) changes.detail = input.detail;
      if (input.password !== undefined) {
        Object.assign(changes, passwordColumns(row.extension, row.domain_name, input.password));
      }
      const action = input.password !== undefined ? "extension_password_set" : "extension_updated";
      const updated = await patch(p, row, changes, "extension_updated", undefined, {
        action,
        fields: given(input),
      });
      if (input.password !== undefined)
        for (const l of listeners) l({ type: "credentials-changed", ext: updated });
      return view(updated, input.password);
    },

    async remove(p: Principal, id: string): Promise<Extension> {
      const row = await loadLive(p, id);
      const now = formatMicros(clock());
      const deleted = await patch(p, row, { tm_delete: now }, "extension_deleted", now, {
        action: "extension_deleted",
        fields: [],
      });
      for (const l of listeners) l({ type: "deleted", ext: deleted });
      return view(deleted);
    },

    async regenerateDirectHash(p: Principal, id: string): Promise<Extension> {
      const row = await loadLive(p, id);
      for (let attempt = 1; ; attempt++) {
        try {
          const audit = { action: "extension_direct_hash_regenerated", fields: ["direct_hash"] };
          return view(await patch(p, row, { direct_hash: newDirectHash() }, undefined, undefined, audit));
        } catch (err) {
          // Another extension holds that hash (one chance in 2^48): draw again.
          if (attempt >= 5 || !(err instanceof Error) || err.name !== "UniqueViolationError") throw err;
        }
      }
    },
  };
}

export type ExtensionService = ReturnType<typeof extensionService>;
