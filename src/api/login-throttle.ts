// The two throttles of /auth/login (CONTRACT §14) together: per client address (failures per
// minute) and per username (LoginBackoff), and their deployment-wide reach (CONTRACT §15): every
// failure here is told to the other nodes (`onFailed`), and theirs are counted here
// (`failedElsewhere`), so guesses spread over nodes add up as if they had come to one.
import { FailureWindow } from "./failure-window.js";
import { LoginBackoff } from "./login-backoff.js";

/** Failed logins one client address may make per minute before it hears 429. */
export const LOGIN_FAILURES_PER_MINUTE = 20;

export class LoginThrottle {
  private readonly failures = new FailureWindow({ limit: LOGIN_FAILURES_PER_MINUTE, windowMs: 60_000 });
  private readonly backoff = new LoginBackoff();
  /** told of each failure on this node: the deployment bus */
  readonly onFailed: Array<(ip: string, username: string) => void> = [];

  /**
   * Seconds to wait before `username` may try from `ip`; 0 to go ahead (which takes the
   * username's turn only when the address may try at all).
   */
  begin(ip: string, username: string): number {
    return this.failures.retryAfter(ip) || this.backoff.begin(username);
  }

  failed(ip: string, username: string): void {
    this.failedElsewhere(ip, username);
    for (const l of this.onFailed) l(ip, username);
  }

  /** A failure another node of the deployment saw. */
  failedElsewhere(ip: string, username: string): void {
    this.failures.fail(ip);
    this.backoff.fail(username);
  }

  succeeded(username: string): void {
    this.backoff.succeed(username);
  }
}
