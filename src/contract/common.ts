// The pieces every resource of the contract shares (CONTRACT §3): ids, timestamps, text limits
// and the list envelope. Each schema is exported with its type (`Static<typeof X>`) under the same
// name, so one import serves the routes (the value) and the domain and the tests (the type).
import { type Static, type TSchema, type TUnsafe, Type } from "@sinclair/typebox";

/** `name` and `detail` of every resource (CONTRACT §6), in characters (code points). */
export const NAME_MAX = 255;
export const DETAIL_MAX = 1024;

export const Timestamp = Type.String({
  description: 'UTC "YYYY-MM-DD HH:MM:SS.ffffff"; "" for a moment that has not happened',
  examples: ["2021-02-18 12:42:27.688282"],
});
export const Id = Type.String({ format: "uuid" });
export const Name = Type.String({ maxLength: NAME_MAX });
export const Detail = Type.String({ maxLength: DETAIL_MAX });

/** A list answer: newest first, `next_page_token` is the last item's tm_create. */
export const Page = <T extends TSchema>(item: T) =>
  Type.Object({
    result: Type.Array(item),
    next_page_token: Type.String({ description: 'tm_create of the last item; "" on an empty page' }),
  });
/** The type of `Page(schema of T)`. */
export type Page<T> = Static<ReturnType<typeof Page<TUnsafe<T>>>>;

/** Unknown query parameters are ignored (CONTRACT §6). */
export const PageQuery = Type.Object(
  {
    page_size: Type.Optional(
      Type.String({ description: "1-100 (larger values are clamped to 100), default 100" }),
    ),
    page_token: Type.Optional(
      Type.String({ description: "next_page_token of the previous page (seed format or RFC 3339)" }),
    ),
  },
  { additionalProperties: true },
);
export type PageQuery = Static<typeof PageQuery>;
