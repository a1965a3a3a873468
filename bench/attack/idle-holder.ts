// Child of bench:attack: COUNT TCP connections from SOURCE to 127.0.0.1:PORT that never send a
// byte, opened BATCH at a time, held until HOLD seconds after the start; counts how many were
// accepted (connected), refused or failed (by error code), and closed by the server — at once
// (within 1 s: refused past the per-source cap) or later (its timeouts) — and how many were still
// open at the end; then prints its result. Needs COUNT file descriptors (ulimit -n).
//   node --import tsx bench/attack/idle-holder.ts PORT SOURCE COUNT HOLD [BATCH]
import { connect, type Socket } from "node:net";
import { printResult } from "../proc.js";

export type IdleResult = {
  attempted: number;
  connected: number;
  connectErrors: Record<string, number>;
  closedAtOnce: number;
  closedLater: number;
  /** seconds after its connect at which the server closed each connection it closed later (min, max) */
  laterAfterS: [number, number] | undefined;
  openAtEnd: number;
  maxOpen: number;
  openingS: number;
};

const [port, count, hold] = [Number(process.argv[2]), Number(process.argv[4]), Number(process.argv[5])];
const address = process.argv[3] ?? "127.0.0.5";
const batch = Number(process.argv[6] ?? 500);
/** a connect not done within this long is given up (a SYN the full accept queue dropped is retried for minutes) */
const CONNECT_MS = 10_000;
const started = performance.now();
const r: IdleResult = {
  attempted: 0,
  connected: 0,
  connectErrors: {},
  closedAtOnce: 0,
  closedLater: 0,
  laterAfterS: undefined,
  openAtEnd: 0,
  maxOpen: 0,
  openingS: 0,
};
let open = 0;
const sockets: Socket[] = [];

function one(): Promise<void> {
  r.attempted++;
  return new Promise((settle) => {
    const s = connect({ host: "127.0.0.1", port, localAddress: address });
    sockets.push(s);
    let connectedAt: number | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      r.connectErrors.timeout = (r.connectErrors.timeout ?? 0) + 1;
      s.destroy();
      settle();
    }, CONNECT_MS);
    s.on("connect", () => {
      clearTimeout(timer);
      connectedAt = performance.now();
      r.connected++;
      r.maxOpen = Math.max(r.maxOpen, ++open);
      settle();
    });
    s.on("error", (err: NodeJS.ErrnoException) => {
      if (connectedAt !== undefined || timedOut) return; // after connect (a reset): counted as closed
      clearTimeout(timer);
      const code = err.code ?? "error";
      r.connectErrors[code] = (r.connectErrors[code] ?? 0) + 1;
      settle();
    });
    s.on("close", () => {
      if (connectedAt === undefined) return;
      open--;
      const after = (performance.now() - connectedAt) / 1000;
      if (after < 1) r.closedAtOnce++;
      else {
        r.closedLater++;
        const [lo, hi] = r.laterAfterS ?? [after, after];
        r.laterAfterS = [Math.min(lo, after), Math.max(hi, after)];
      }
    });
  });
}

for (let i = 0; i < count; i += batch)
  await Promise.all(Array.from({ length: Math.min(batch, count - i) }, one));
r.openingS = (performance.now() - started) / 1000;
process.stderr.write(`${r.connected} of ${r.attempted} connected in ${r.openingS.toFixed(1)} s\n`);
await new Promise((done) => setTimeout(done, Math.max(0, hold * 1000 - (performance.now() - started))));
r.openAtEnd = open;
printResult(r);
for (const s of sockets) s.destroy();
process.exit(0);
