// What the proxy tells of the calls it forwards (CONTRACT §13), for call records and metrics:
// a call started (forked to an extension's devices), answered, failed before an answer, or hung
// up (a BYE through the proxy). The proxy keeps no dialog: a BYE names its call by Call-ID.

export type CallResult =
  | "answered"
  | "busy"
  | "declined"
  | "no_answer"
  | "canceled"
  | "unavailable"
  | "failed";

export interface CallStart {
  /** the INVITE server transaction's key: names the call until its final response */
  key: string;
  callId: string;
  fromUri: string;
  toUri: string;
  extensionId: string;
  customerId: string;
  /** the calling extension when it authenticated (a call to an extension's address); "" for a direct call */
  callerExtensionId: string;
  direct: boolean;
  /** where the INVITE came from, ip:port */
  source: string;
}

export interface CallObserver {
  started(c: CallStart): void;
  answered(key: string): void;
  /** The call ended before an answer: the final status sent to the caller, and what it means. */
  failed(key: string, status: number, result: CallResult): void;
  /** A BYE passed through the proxy (from either side). */
  hungUp(callId: string): void;
}

/**
 * §13's result of a call that got no answer, from the final status the caller got and how the
 * call was ending: the caller's CANCEL, or our ring timeout.
 */
export function resultOf(status: number, ending: "canceled" | "no-answer" | undefined): CallResult {
  if (ending === "canceled" || status === 487) return "canceled";
  if (ending === "no-answer" || status === 408) return "no_answer";
  if (status === 486 || status === 600) return "busy";
  if (status === 603) return "declined";
  if (status === 404 || status === 410 || status === 480 || status === 604) return "unavailable";
  return "failed";
}
