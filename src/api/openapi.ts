// How the OpenAPI document (GET /openapi.json, CONTRACT §3) presents the contract's schemas: each
// resource once under components/schemas by its name (the routes keep their schemas inline, which
// is what validates and serializes; only the document refers to the names), and a description
// for every status an operation answers with.
import type { TSchema } from "@sinclair/typebox";
import type { FastifyInstance, FastifySchema } from "fastify";
import {
  AccessKey,
  CreateAccessKeyBody,
  CreatedAccessKey,
  UpdateAccessKeyBody,
} from "../contract/access-key.js";
import { Call } from "../contract/call.js";
import { ConsoleConfig } from "../contract/console.js";
import { Contact } from "../contract/contact.js";
import { Customer, UpdateCustomerBody } from "../contract/customer.js";
import { Domain } from "../contract/domain.js";
import { Event } from "../contract/event.js";
import { CreateExtensionBody, Extension, UpdateExtensionBody } from "../contract/extension.js";
import { SipBan } from "../contract/sip-ban.js";
import { LoginBody, LoginReply, Me, User } from "../contract/user.js";
import { WebhookDelivery, WebhookSecret } from "../contract/webhook.js";

/** The names the document gives the contract's schemas (components/schemas). */
const NAMED: Array<[string, TSchema]> = Object.entries({
  AccessKey,
  CreatedAccessKey,
  CreateAccessKeyBody,
  UpdateAccessKeyBody,
  Call,
  ConsoleConfig,
  Contact,
  Customer,
  UpdateCustomerBody,
  Domain,
  Event,
  Extension,
  CreateExtensionBody,
  UpdateExtensionBody,
  SipBan,
  User,
  Me,
  LoginBody,
  LoginReply,
  WebhookDelivery,
  WebhookSecret,
});
const nameOf = new Map<object, string>(NAMED.map(([name, schema]) => [schema, name]));

/** What each status means (CONTRACT §3); the error body is always the shared "Error". */
export const STATUS_DESCRIPTIONS: Record<number, string> = {
  200: "Success: the JSON body below",
  400: "INVALID_ARGUMENT: a path parameter, query parameter or body field is malformed; the message names it",
  401: "UNAUTHENTICATED: no credentials (AUTHENTICATION_REQUIRED), or invalid or expired ones",
  403: "PERMISSION_DENIED: the caller's role may not do this",
  404: "NOT_FOUND: no such resource in the caller's customer",
  409: "ALREADY_EXISTS: another live resource holds this unique value",
  413: "The body is larger than the server accepts",
  415: "The body is not application/json",
  429: "RESOURCE_EXHAUSTED: too many requests (API rate limits) or login attempts; retry after the Retry-After header's seconds",
  500: "INTERNAL: an unexpected failure (a bug: please report it)",
};

/** The named schemas as shared schemas ($id = name), so the document lists them once. */
export function addNamedSchemas(app: FastifyInstance): void {
  for (const [name, schema] of NAMED) app.addSchema({ ...schema, $id: name });
}

/** A copy of `schema` with every named schema inside it (not itself) replaced by a reference. */
function refer(schema: unknown, top = true): unknown {
  if (typeof schema !== "object" || schema === null) return schema;
  const name = top ? undefined : nameOf.get(schema);
  if (name) return { $ref: name };
  if (Array.isArray(schema)) return schema.map((s) => refer(s, false));
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, refer(v, false)]));
}

const asRef = (schema: unknown) => {
  const name = typeof schema === "object" && schema !== null ? nameOf.get(schema) : undefined;
  return name ? { $ref: name } : (refer(schema) as object);
};

/** @fastify/swagger's `transform`: names in place of inline copies, a description per status. */
export function documentRoute({ schema, url }: { schema: FastifySchema; url: string }) {
  if (!schema || schema.hide) return { schema, url };
  const response = Object.fromEntries(
    Object.entries((schema.response ?? {}) as Record<string, unknown>).map(([status, s]) => {
      const shown = asRef(s);
      const name = typeof s === "object" && s !== null ? nameOf.get(s) : undefined;
      const text =
        status === "200" && name ? `Success: the ${name}` : (STATUS_DESCRIPTIONS[Number(status)] ?? "");
      // A reference takes the description beside it; an inline schema through the key
      // @fastify/swagger moves to the response (and leaves out of the schema).
      return [
        status,
        "$ref" in shown ? { ...shown, description: text } : { ...shown, "x-response-description": text },
      ];
    }),
  );
  return { schema: { ...schema, ...(schema.body ? { body: asRef(schema.body) } : {}), response }, url };
}
