// How long an honest login takes while a flood of wrong passwords keeps scrypt busy: prints figures,
// asserts nothing. `npm run bench:login -w server` (run it alone: the machine's load decides scrypt's speed).
//
// A directory in this process at its default scrypt cost, password concurrency and queue; the failure
// limits are off, so every guess of every round reaches the queue (with them, most would get 429). 30 accounts are registered from 30 addresses; then each round sends
// one wrong password for every account from its own address (30 checks, none refused by a limit) and,
// while they queue, the owner of "owner" logs in (a) from her usual address (priority lane) and (b)
// from an address she never used (normal lane, behind the flood). Baseline: her login with no flood,
// in the same run. Addresses are not verified here (nothing listens at them; verification is not
// what is measured).

import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { buildApp } from "../src/app.js";
import { resolveConfig } from "../src/config.js";

/** Below the queue's 32 + 2 running, so the stranger's login is queued rather than refused with 503. */
const FLOOD = 30;
const ROUNDS = 5;
const print = (line = "") => process.stdout.write(`${line}\n`);

const dataDir = await mkdtemp(join(tmpdir(), "login-flood-bench-"));
const app = await buildApp({
  config: resolveConfig({ dataDir, verifyAddresses: false, accountLoginFailures: 0, ipLoginFailures: 0, logLevel: "silent" }),
  logger: pino({ level: "silent" }),
});
const login = async (ip: string, username: string, password: string, port: number) => {
  const res = await app.inject({
    method: "POST",
    url: "/api/v1/login",
    remoteAddress: ip,
    headers: { "content-type": "application/json" },
    payload: JSON.stringify({ username, password, address: `http://127.0.0.1:${port}` }),
  });
  return res.statusCode;
};
const PASSWORD = "the owner's password";
const ownerLogin = async (ip: string) => {
  const started = performance.now();
  const status = await login(ip, "owner", PASSWORD, 1);
  if (status !== 200) throw new Error(`the owner's login got ${status}`);
  return performance.now() - started;
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

try {
  await login("192.0.2.1", "owner", PASSWORD, 1);
  for (let i = 0; i < FLOOD; i += 1) await login(`198.18.0.${i + 1}`, `victim-${i}`, "a victim's password", 2 + i);
  const quiet: number[] = [];
  const usual: number[] = [];
  const stranger: number[] = [];
  const floodMs: number[] = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    quiet.push(await ownerLogin("192.0.2.1"));
    for (const [lane, into] of [["usual", usual], ["stranger", stranger]] as const) {
      const started = performance.now();
      // Each account's guess from its own address, a round of its own: no limit refuses it.
      const flood = Array.from({ length: FLOOD }, (_, i) => login(`203.0.${round * 2 + (lane === "usual" ? 0 : 1)}.${i + 1}`, `victim-${i}`, "wrong password", 2 + i));
      await new Promise((resolve) => setImmediate(resolve));
      into.push(await ownerLogin(lane === "usual" ? "192.0.2.1" : `192.0.3.${round * 2 + 1}`));
      const statuses = await Promise.all(flood);
      floodMs.push(performance.now() - started);
      if (statuses.some((s) => s !== 401 && s !== 503)) throw new Error(`unexpected flood answers: ${statuses.join(",")}`);
    }
  }
  const base = median(quiet);
  print(`login during a flood of ${FLOOD} wrong passwords (scrypt 2^15, 2 at once, queue 32): median of ${ROUNDS} rounds`);
  print(`  no flood (baseline)               ${base.toFixed(0).padStart(6)} ms   1.0x`);
  print(`  owner from her usual address      ${median(usual).toFixed(0).padStart(6)} ms   ${(median(usual) / base).toFixed(1)}x  (priority lane)`);
  print(`  owner from a new address          ${median(stranger).toFixed(0).padStart(6)} ms   ${(median(stranger) / base).toFixed(1)}x  (behind the flood)`);
  print(`  the whole flood                   ${median(floodMs).toFixed(0).padStart(6)} ms`);
  print(`machine: ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join("/")}`);
} finally {
  await app.close();
  await rm(dataDir, { recursive: true, force: true });
}
