// Domain errors carry a neutral kind and a machine reason; the edges (HTTP, SIP) map them once.

export type ErrorKind =
  | "INVALID_ARGUMENT"
  | "UNAUTHENTICATED"
  | "PERMISSION_DENIED"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "RESOURCE_EXHAUSTED";

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

export const invalidArgument = (field: string, message: string) =>
  new DomainError("INVALID_ARGUMENT", `INVALID_${field.toUpperCase()}`, `${field}: ${message}`);

export const notFound = (what: string) =>
  new DomainError("NOT_FOUND", `${what.toUpperCase()}_NOT_FOUND`, `${what} not found`);

export const permissionDenied = (message: string) =>
  new DomainError("PERMISSION_DENIED", "PERMISSION_DENIED", message);

/** One answer for every failed authentication, so nothing tells which part was wrong. */
export const invalidCredentials = () =>
  new DomainError("UNAUTHENTICATED", "INVALID_CREDENTIALS", "the credentials are invalid or expired");

export const authenticationRequired = () =>
  new DomainError(
    "UNAUTHENTICATED",
    "AUTHENTICATION_REQUIRED",
    "authentication required: send a token or an access key",
  );
