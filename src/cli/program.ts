// The `sipext` command line (CONTRACT §16), built apart from main.ts so that tests can run it in
// the test's own process. Commander throws instead of exiting (exitOverride): main.ts maps that
// to the exit code.
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { extensionCommands } from "./extensions.js";
import { accessKeyCommands, customerCommands, userCommands } from "./identity.js";
import { contactCommands, sipBanCommands } from "./sip.js";

/** package.json's version: two levels up from src/cli and from dist/cli alike. */
export function packageVersion(): string {
  const url = new URL("../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
}

export function cliProgram(serve: () => Promise<void>): Command {
  const program = new Command("sipext")
    .description("multi-tenant SIP extension platform")
    .version(packageVersion(), "-V, --version", "print the version (package.json)")
    .option("--json", "print JSON (the default when stdout is not a terminal)")
    // Inherited by every command defined after it.
    .exitOverride();
  program
    .command("serve", { isDefault: true })
    .description("serve the REST API (configuration from SIPEXT_* variables)")
    .action(serve);
  customerCommands(program);
  userCommands(program);
  accessKeyCommands(program);
  extensionCommands(program);
  contactCommands(program);
  sipBanCommands(program);
  return program;
}
