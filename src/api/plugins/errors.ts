// The one place where errors become HTTP answers (CONTRACT §3). Internals never leak.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { DomainError, type ErrorKind } from "../../domain/errors.js";

const STATUS: Record<ErrorKind, number> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  RESOURCE_EXHAUSTED: 429,
};

const NAME_OF: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  405: "INVALID_ARGUMENT",
  409: "ALREADY_EXISTS",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
};

export function sendError(
  req: FastifyRequest,
  reply: FastifyReply,
  code: number,
  reason: string,
  message: string,
) {
  return reply.code(code).send({
    error: { status: NAME_OF[code] ?? "INTERNAL", reason, message, request_id: req.id },
  });
}

interface AjvIssue {
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
  keyword: string;
}

/** "body/extension: must match ..." from the first schema violation, naming the field. */
function describeValidation(err: FastifyError): { field: string; message: string } {
  const issue = (err.validation?.[0] ?? {}) as AjvIssue;
  const where = err.validationContext ?? "body";
  const missing = issue.params?.missingProperty;
  const path = issue.instancePath?.replace(/^\//, "").replace(/\//g, ".") ?? "";
  const field = typeof missing === "string" ? (path ? `${path}.${missing}` : missing) : path || where;
  let message = issue.message ?? "is invalid";
  if (issue.keyword === "required") message = "is required";
  if (issue.keyword === "pattern" && typeof issue.params?.pattern === "string") {
    message = `has characters or a length that are not allowed (pattern ${issue.params.pattern})`;
  }
  if (issue.keyword === "type" && !path && typeof missing !== "string") {
    return { field: where, message: `${where} ${message}` };
  }
  return { field, message: `${field}: ${message}` };
}

/**
 * Fastify's `frameworkErrors`: errors raised before routing (a path parameter over the router's
 * length limit, bad percent-encoding), which otherwise get Fastify's own body and no request id.
 */
export function frameworkError(err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  reply.header("x-request-id", req.id);
  switch (err.code) {
    case "FST_ERR_MAX_PARAM_LENGTH":
      // Every path parameter is an id, and no id is that long.
      return sendError(
        req,
        reply,
        400,
        "INVALID_ID",
        "id: must be a UUID, got a path segment that is too long",
      );
    case "FST_ERR_BAD_URL":
      return sendError(req, reply, 400, "INVALID_URL", "the URL is not valid (bad percent-encoding)");
  }
  const status = err.statusCode ?? 500;
  if (status >= 400 && status < 500)
    return sendError(req, reply, status, err.code ?? "BAD_REQUEST", err.message);
  req.log.error({ err }, "unhandled framework error");
  return sendError(req, reply, 500, "INTERNAL", "internal error; quote the request_id when reporting it");
}

export function registerErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err instanceof DomainError) return sendError(req, reply, STATUS[err.kind], err.reason, err.message);
    if (err.validation) {
      const { field, message } = describeValidation(err);
      return sendError(
        req,
        reply,
        400,
        `INVALID_${field.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}`,
        message,
      );
    }
    switch (err.code) {
      case "FST_ERR_CTP_INVALID_JSON_BODY":
        return sendError(req, reply, 400, "INVALID_JSON_BODY", "the body is not valid JSON");
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        return sendError(req, reply, 413, "BODY_TOO_LARGE", "the body is larger than 64 KiB");
      case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
        return sendError(req, reply, 415, "UNSUPPORTED_MEDIA_TYPE", "the body must be application/json");
      case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
        return sendError(req, reply, 400, "INVALID_CONTENT_LENGTH", "Content-Length does not match the body");
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return sendError(req, reply, status, err.code ?? "BAD_REQUEST", err.message);
    }
    req.log.error({ err }, "unhandled error");
    return sendError(req, reply, 500, "INTERNAL", "internal error; quote the request_id when reporting it");
  });

  app.setNotFoundHandler((req, reply) =>
    sendError(req, reply, 404, "ROUTE_NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`),
  );
}
