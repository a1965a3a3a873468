// Preloaded (--import) into every node child of the benchmarks, the sipext server included: the
// orchestrator holds the other end of our stdin, so when it dies (even by SIGKILL) stdin ends and
// this process exits instead of living on as an orphan holding a port.
process.stdin.on("end", () => process.exit(3));
process.stdin.on("error", () => process.exit(3));
process.stdin.resume();

export {};
