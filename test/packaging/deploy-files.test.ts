// The container and service files (issue 14). `docker build` needs a registry this machine cannot
// reach, so the Dockerfile is checked by dockerfile-utils' validator (the one the Docker language
// server uses) and by what it must say; compose.yaml is parsed and its services checked.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { validate } from "dockerfile-utils";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const ROOT = join(import.meta.dirname, "..", "..");
const read = (name: string) => readFileSync(join(ROOT, name), "utf8");
/** The Node flags `npm start` gives the server (README "Decisions"): every launcher gives the same. */
const startFlags = (JSON.parse(read("package.json")).scripts.start as string)
  .split(/\s+/)
  .filter((w) => w.startsWith("--"))
  .join(" ");

describe("the server's Node flags", () => {
  it("npm start sets the young generation the README's decision names", () => {
    expect(startFlags).toBe("--max-semi-space-size=64");
    expect(read("README.md")).toContain("`--max-semi-space-size=64`");
  });

  it("are the same in the sipext command's shebang (the Dockerfile and the unit: below)", () => {
    expect(read("bin/sipext.js").split("\n")[0]).toBe(`#!/usr/bin/env -S node ${startFlags}`);
  });
});

/** The instructions, continuation lines joined: [keyword, arguments]. */
function instructions(text: string): Array<[string, string]> {
  return text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => {
      const [k = "", ...rest] = l.split(/\s+/);
      return [k.toUpperCase(), rest.join(" ")];
    });
}

describe("Dockerfile", () => {
  const text = read("Dockerfile");
  const all = instructions(text);
  const args = (k: string) => all.filter(([i]) => i === k).map(([, a]) => a);

  it("has no syntax problem dockerfile-utils can find", () => {
    expect(validate(text).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it("builds in stages and runs small, as a non-root user, with runtime dependencies only", () => {
    const from = args("FROM");
    expect(from.length).toBeGreaterThanOrEqual(2);
    for (const f of from) expect(f).toMatch(/^node:20-bookworm-slim/);
    const runs = args("RUN").join("\n");
    expect(runs).toContain("npm ci --omit=dev");
    expect(runs).toContain("npm run build");
    expect(args("USER").at(-1)).toBe("node");
    expect(args("COPY").filter((c) => c.startsWith("--from=")).length).toBeGreaterThanOrEqual(2);
    expect(args("ENTRYPOINT")[0]).toBe(`["node", "${startFlags}", "dist/cli/main.js"]`);
  });

  it("exposes the HTTP and SIP ports, UDP included, and checks /health/live", () => {
    const ports = args("EXPOSE").join(" ").split(/\s+/);
    expect(ports).toEqual(expect.arrayContaining(["8080/tcp", "5060/udp", "5060/tcp"]));
    expect(args("HEALTHCHECK").join(" ")).toContain("/health/live");
  });

  it("keeps the checkout's build output and data out of the build context", () => {
    const ignored = read(".dockerignore").split("\n");
    expect(ignored).toEqual(expect.arrayContaining(["node_modules", "dist", "data", ".git"]));
  });
});

describe("compose.yaml", () => {
  interface Service {
    build?: string;
    image?: string;
    ports?: string[];
    environment?: Record<string, string>;
    depends_on?: Record<string, { condition: string }>;
    healthcheck?: { test: string[] };
    volumes?: string[];
  }
  const doc = parse(read("compose.yaml")) as { services: Record<string, Service>; volumes: object };

  it("runs sipext on PostgreSQL 16 once the database is healthy", () => {
    const { sipext, postgres } = doc.services;
    expect(postgres?.image).toMatch(/^postgres:16/);
    expect(postgres?.healthcheck?.test.join(" ")).toContain("pg_isready");
    expect(sipext?.build).toBe(".");
    expect(sipext?.depends_on).toEqual({ postgres: { condition: "service_healthy" } });
    const url = new URL(
      (sipext?.environment?.DATABASE_URL ?? "").replace("${POSTGRES_PASSWORD:-change-me}", "x"),
    );
    expect([url.protocol, url.hostname, url.port, url.pathname]).toEqual([
      "postgres:",
      "postgres",
      "5432",
      "/sipext",
    ]);
    expect(postgres?.environment?.POSTGRES_DB).toBe("sipext");
  });

  it("publishes the HTTP port and SIP over UDP and TCP, and keeps the data directory", () => {
    const { sipext } = doc.services;
    expect(sipext?.ports).toEqual(
      expect.arrayContaining(["8080:8080/tcp", "5060:5060/udp", "5060:5060/tcp"]),
    );
    expect(sipext?.environment?.SIPEXT_HTTP_PORT).toBe("8080");
    expect(sipext?.environment?.SIPEXT_SIP_PORT).toBe("5060");
    expect(sipext?.volumes).toContain("sipext-data:/var/lib/sipext");
    expect(Object.keys(doc.volumes)).toEqual(["sipext-data", "postgres-data"]);
  });
});

describe("deploy/sipext.service", () => {
  const unit = read("deploy/sipext.service");
  const keys = new Map(
    unit
      .split("\n")
      .filter((l) => /^[A-Za-z]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );

  it("runs the compiled server with plain node as an unprivileged user and stops it with SIGTERM", () => {
    expect(keys.get("ExecStart")).toBe(`/usr/bin/node ${startFlags} /opt/sipext/dist/cli/main.js serve`);
    expect(keys.get("User")).toBe("sipext");
    expect(keys.get("KillSignal")).toBe("SIGTERM");
    expect(keys.get("WantedBy")).toBe("multi-user.target");
    expect(unit).toMatch(/^\[Unit\]$[\s\S]*^\[Service\]$[\s\S]*^\[Install\]$/m);
  });
});
