// List paging of CONTRACT §3: page_size 1-100 (clamped above), page_token = a tm_create.
import type { Page } from "../contract/common.js";
import type { PageQuery } from "../store/ports.js";
import { formatMicros, parseTimestamp } from "../util/time.js";
import { invalidArgument } from "./errors.js";

export const MAX_PAGE_SIZE = 100;

export function parsePage(pageSize: string | undefined, pageToken: string | undefined): PageQuery {
  let limit = MAX_PAGE_SIZE;
  if (pageSize !== undefined && pageSize !== "") {
    // Any whole number: larger than the maximum is clamped (CONTRACT §3), however many digits.
    if (!/^\d+$/.test(pageSize) || Number(pageSize) < 1) {
      throw invalidArgument(
        "page_size",
        `must be a whole number from 1 to ${MAX_PAGE_SIZE}, got "${pageSize}"`,
      );
    }
    limit = Math.min(Number(pageSize), MAX_PAGE_SIZE);
  }
  let before: string | undefined;
  if (pageToken !== undefined && pageToken !== "") {
    const us = parseTimestamp(pageToken);
    if (us === undefined) {
      throw invalidArgument(
        "page_token",
        'must be a timestamp like "2021-02-18 12:42:27.688282" or "2021-02-18T12:42:27.688282Z"',
      );
    }
    before = formatMicros(us);
  }
  return { limit, before };
}

/** The envelope: the token is the last item's tm_create, "" on an empty page. */
export function toPage<R extends { tm_create: string }, T>(rows: R[], view: (r: R) => T): Page<T> {
  const last = rows[rows.length - 1];
  return { result: rows.map(view), next_page_token: last ? last.tm_create : "" };
}
