// What only HTTP adds to the contract's shapes (src/contract/): path parameters, the error
// statuses of each route, and the route schema that puts them together for Fastify and OpenAPI.
import { type TSchema, Type } from "@sinclair/typebox";

export const IdParams = Type.Object({ id: Type.String({ description: "UUID" }) });

interface RouteParts {
  summary?: string;
  params?: TSchema;
  querystring?: TSchema;
  body?: TSchema;
}

/** What a route's errors depend on beyond its parts (CONTRACT §3, §4). */
export interface RouteErrors {
  /** no credentials needed (/auth/*): no 401 or 403, and no security requirement in OpenAPI */
  public?: boolean;
  /** every role may call it: no 403 */
  anyRole?: boolean;
  /** a unique value may collide: 409 */
  conflict?: boolean;
  /** what it names may not exist although the path has no id (a token in the query): 404 */
  missing?: boolean;
}

/**
 * The error statuses a route can really send: 400 when it takes parameters, a query or a body;
 * 401 and 403 unless public; 404 with an id in the path; 413 and 415 with a body; 429 always (the
 * API rate limits of CONTRACT §17 come before everything else, and /auth/login's back-off). No
 * route is meant to answer 500 (CONTRACT §3), so none lists it.
 */
export function errorStatuses(parts: RouteParts, e: RouteErrors = {}): number[] {
  const statuses: number[] = [];
  if (parts.params || parts.querystring || parts.body) statuses.push(400);
  if (!e.public) statuses.push(401);
  if (!e.public && !e.anyRole) statuses.push(403);
  if (parts.params || e.missing) statuses.push(404);
  if (e.conflict) statuses.push(409);
  if (parts.body) statuses.push(413, 415);
  statuses.push(429);
  return statuses;
}

/** A route's options: its OpenAPI tags and parts, and its 200 answer beside its error statuses. */
export function route<P extends RouteParts, T extends TSchema>(
  tags: string[],
  ok: T,
  parts: P,
  e: RouteErrors = {},
) {
  const ref = Type.Ref("Error");
  const errors = Object.fromEntries(errorStatuses(parts, e).map((s) => [s, ref]));
  return {
    schema: {
      tags,
      ...parts,
      ...(e.public ? { security: [] } : {}),
      response: { 200: ok, ...errors } as { 200: T } & Record<number, TSchema>,
    },
  };
}
