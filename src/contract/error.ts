// The one error envelope of CONTRACT §3, registered once in the app as the shared schema "Error".
import { type Static, Type } from "@sinclair/typebox";

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      status: Type.String({ examples: ["NOT_FOUND"] }),
      reason: Type.String({ examples: ["EXTENSION_NOT_FOUND"] }),
      message: Type.String(),
      request_id: Type.String(),
      /** more about the error: a rate limit says which one (`limited_by`: `ip` or `customer`, CONTRACT §17) */
      details: Type.Optional(
        Type.Array(
          Type.Object({
            limited_by: Type.Optional(Type.String({ examples: ["ip", "customer"] })),
            retry_after: Type.Optional(Type.Integer({ description: "seconds" })),
          }),
        ),
      ),
    }),
  },
  { $id: "Error" },
);
export type ErrorBody = Static<typeof ErrorBody>;
