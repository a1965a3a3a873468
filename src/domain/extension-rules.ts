// Field rules of CONTRACT §6, shared by the HTTP schemas (so OpenAPI shows them) and the domain.

/** Safe in a SIP URI user part without escaping (RFC 3261 unreserved minus a few + "!~"). */
export const EXTENSION_PATTERN = "^[A-Za-z0-9._\\-+~!]{1,40}$";
/** Printable ASCII without space. */
export const PASSWORD_PATTERN = "^[\\x21-\\x7E]{8,80}$";
export const NAME_MAX = 255;
export const DETAIL_MAX = 1024;

export const EXTENSION_RULE = "1-40 characters from A-Z a-z 0-9 . _ - + ~ !";
export const PASSWORD_RULE = "8-80 printable ASCII characters without spaces";
