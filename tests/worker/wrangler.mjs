// The built worker under `wrangler dev` on 127.0.0.1, local D1 persisted in
// a caller-owned temporary directory. Shared by the load test and the
// portal browser tests.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { clockBindings } from "../lib/clock.mjs";
import { closedPort, root } from "./lib.mjs";

const wranglerBin = join(root, "node_modules", ".bin", "wrangler");

/** wrangler's environment: no metrics, no network look-ups, logs and config in `dir`. */
function wranglerEnv(dir) {
  return {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_LOG_PATH: join(dir, "logs"),
    XDG_CONFIG_HOME: join(dir, "config"),
    NO_COLOR: "1",
  };
}

/**
 * Starts `wrangler dev` with `vars`, its config, logs and D1 state in `dir`
 * (its own process group, so stop() ends wrangler and its workerd).
 * `assets: true` serves worker/public (`make portal`) as the deployed
 * worker does. Resolves once `/` answers (that probe reaches the worker
 * unless assets serve `/`; its request id is `probeId`, or null).
 */
export async function startWranglerDev(dir, vars, { assets = false, name = "tiergate-load", readyMs = 60_000 } = {}) {
  const port = await closedPort();
  const inspector = await closedPort();
  const config = join(dir, "wrangler.json");
  const doc = {
    name,
    main: join(root, "worker", "build", "index.js"),
    compatibility_date: "2026-04-26",
    vars: { ...clockBindings(), ...vars },
    d1_databases: [{ binding: "DB", database_name: name, database_id: "00000000-0000-0000-0000-000000000000" }],
  };
  if (assets) doc.assets = { directory: join(root, "worker", "public"), not_found_handling: "none" };
  writeFileSync(config, JSON.stringify(doc));
  const args = ["dev", "-c", config, "--local", "--ip", "127.0.0.1", "--port", String(port)];
  args.push("--inspector-port", String(inspector), "--persist-to", join(dir, "state"));
  args.push("--show-interactive-dev-session=false", "--log-level", "warn");
  const child = spawn(wranglerBin, args, { cwd: dir, env: wranglerEnv(dir), detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
    const t = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, 5000);
    await exited;
    clearTimeout(t);
  };
  const url = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  let probe;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${log}`);
    if (Date.now() - t0 > readyMs) {
      await stop();
      throw new Error(`wrangler dev not ready in ${readyMs / 1000} s:\n${log}`);
    }
    try {
      probe = await fetch(`${url}/`, { signal: AbortSignal.timeout(10_000) });
      await probe.arrayBuffer();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { url, config, dir, stop, log: () => log, probeId: probe.headers.get("x-request-id") };
}

/** Runs one SQL statement on the local D1 of `dev` (after it has stopped); the result rows. */
export async function d1Query(dev, sql) {
  const args = ["d1", "execute", "DB", "-c", dev.config, "--local", "--persist-to", join(dev.dir, "state"), "--json"];
  args.push("--command", sql);
  const env = wranglerEnv(dev.dir);
  delete env.NO_COLOR;
  delete env.CLOUDFLARE_CF_FETCH_ENABLED;
  const child = spawn(wranglerBin, args, { cwd: dev.dir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const t = setTimeout(() => process.kill(-child.pid, "SIGKILL"), 60_000);
  const code = await new Promise((resolve) => child.once("exit", resolve));
  clearTimeout(t);
  assert.equal(code, 0, `wrangler d1 execute failed:\n${err}`);
  return JSON.parse(out)[0].results;
}

/** Audit row ids from the local D1 of `dev` (after it has stopped). */
export async function auditIds(dev) {
  return (await d1Query(dev, "SELECT id FROM audit_events")).map((r) => r.id);
}
