// Typed message out, bytes out (RFC 3261 §7): the start line, each header field in order on
// its own CRLF-terminated line, an empty line, the body. Content-Length is always written and
// always counts the body's bytes (RFC 3261 §20.14: "the size of the message-body, in decimal
// number of octets"), whatever the headers said.
import type { SipMessage } from "./types.js";

function noBreak(part: string, what: string): string {
  if (part.indexOf("\n") >= 0 || part.indexOf("\r") >= 0) throw new TypeError(`CR or LF in the ${what}`);
  return part;
}

export function serialize(msg: SipMessage): Buffer {
  const startLine =
    msg.kind === "request"
      ? `${noBreak(msg.method, "method")} ${noBreak(msg.uri, "Request-URI")} ${msg.version}`
      : `${msg.version} ${msg.status} ${noBreak(msg.reason, "reason phrase")}`;
  const bodyLength = msg.body.length;
  let head = `${startLine}\r\n`;
  let lengthWritten = false;
  for (const { name, value } of msg.headers.entries()) {
    if (name === "Content-Length") {
      // keep the first one's place; drop any other
      if (!lengthWritten) head += `Content-Length: ${bodyLength}\r\n`;
      lengthWritten = true;
      continue;
    }
    head += `${name}: ${value}\r\n`;
  }
  if (!lengthWritten) head += `Content-Length: ${bodyLength}\r\n`;
  head += "\r\n";
  const headLength = Buffer.byteLength(head, "utf8");
  const out = Buffer.allocUnsafe(headLength + bodyLength);
  out.write(head, 0, "utf8");
  msg.body.copy(out, headLength);
  return out;
}
