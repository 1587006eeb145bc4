// Attacks on the directory from the open network, against a directory process with its default
// limits and address verification, and real pservers: password guessing while the owner logs in, a
// flood of scrypt work, mass registration, taking over another peer's address, and throwaway accounts
// renaming a real file. Client addresses other than loopback are spoken with X-Forwarded-For (the
// directory runs with --trust-proxy, as behind a reverse proxy); the pservers log in from 127.0.0.1.
import { CHAOS_PASSWORD } from "../constants.js";
import { Cluster } from "../harness/cluster.js";
import type { DirectoryApi } from "../harness/directory-api.js";
import { writeRandomFile } from "../harness/files.js";
import type { RawResponse } from "../harness/http.js";
import { check, type Scenario, type ScenarioResult, type SubRow } from "./scenario.js";

const FLOOD = 40;

/** One login through the raw client, from `ip` (X-Forwarded-For). */
function loginFrom(api: DirectoryApi, ip: string, body: Record<string, unknown>): Promise<RawResponse> {
  return api.raw({ method: "POST", path: "/api/v1/login", headers: { "x-forwarded-for": ip }, body });
}

function countBy(responses: readonly RawResponse[]): string {
  const counts = new Map<number, number>();
  for (const r of responses) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => a - b).map(([status, n]) => `${n}× ${status}`).join(", ");
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

/** Runs the scenario; throws with what went wrong. */
export async function directoryAttacks(): Promise<ScenarioResult> {
  const cluster = await Cluster.create("directory-attacks");
  try {
    const directory = await cluster.startDirectory({ trustProxy: true, rateLimitPerMinute: 0 });
    const api = directory.api;
    const shared = await writeRandomFile(await cluster.sharedDirOf("alice"), "holiday.mp4", 256 * 1024);
    const [alice, bob] = [await cluster.startPeer("alice"), await cluster.startPeer("bob")];
    await cluster.waitForHolders(shared.contentId, ["alice"]);
    const rows: SubRow[] = [];
    // The owner's own login, from her pserver's address, through a REST client that proves it.
    const owner = await cluster.proverFor("alice-owner");
    const ownerLogin = () => loginFrom(api, "127.0.0.1", { username: "carol", password: CHAOS_PASSWORD, address: owner.address, proofKey: owner.proofKey });
    check((await ownerLogin()).status === 200, "carol could not register");
    const quiet = await timed(ownerLogin);

    // 1. Password guessing: 40 parallel wrong passwords for carol from one address.
    const guesses = loginFrom.bind(null, api, "203.0.113.66");
    const flood = Promise.all(Array.from({ length: FLOOD }, () => guesses({ username: "carol", password: "not-carols-password", address: owner.address, proofKey: owner.proofKey })));
    const during = await timed(ownerLogin);
    const answers = await flood;
    const limited = answers.filter((r) => r.status === 429);
    check(limited.length >= FLOOD - 10, `only ${limited.length} of ${FLOOD} parallel wrong passwords were refused with 429 (${countBy(answers)})`);
    check(limited.every((r) => Number(r.headers["retry-after"]) >= 1), "a 429 came without Retry-After");
    check(during.value.status === 200, `the owner's login during the guessing got ${during.value.status}`);
    rows.push({
      scenario: `password guessing: ${FLOOD} parallel wrong passwords for one account`,
      outcome: "PASS",
      bytesCompared: 0,
      detail:
        `${countBy(answers)} (Retry-After ${limited[0]?.headers["retry-after"]} s), ` +
        `while its owner logged in from her usual address in ${during.ms.toFixed(0)} ms (${quiet.ms.toFixed(0)} ms without the attack)`,
    });

    // 2. A flood of scrypt work from many addresses (registrations that each cost a hash).
    const work = Promise.all(
      Array.from({ length: FLOOD }, (_, i) =>
        loginFrom(api, `198.18.${i >> 8}.${(i & 255) + 1}`, { username: `flood-${i}`, password: CHAOS_PASSWORD, address: `http://127.0.0.1:${9 + i}`, proofKey: owner.proofKey }),
      ),
    );
    const ownerDuringWork = await timed(ownerLogin);
    const workAnswers = await work;
    check(ownerDuringWork.value.status === 200, `the owner's login during the scrypt flood got ${ownerDuringWork.value.status}`);
    rows.push({
      scenario: `scrypt flood: ${FLOOD} parallel registrations from ${FLOOD} addresses`,
      outcome: "PASS",
      bytesCompared: 0,
      detail: `${countBy(workAnswers)} (503: password queue full; 422: nobody proves those addresses); the owner's login from her usual address meanwhile took ${ownerDuringWork.ms.toFixed(0)} ms (priority lane)`,
    });

    // 3. Mass registration from one address.
    const registrations: RawResponse[] = [];
    for (let i = 0; i < 53; i += 1) {
      const at = await cluster.proverFor(`bulk-${i}`);
      registrations.push(await loginFrom(api, "203.0.113.99", { username: `bulk-${i}`, password: CHAOS_PASSWORD, address: at.address, proofKey: at.proofKey }));
    }
    const registered = registrations.filter((r) => r.status === 200).length;
    check(registered <= 10, `${registered} accounts were registered from one address`);
    rows.push({
      scenario: "mass registration: 53 accounts from one address",
      outcome: "PASS",
      bytesCompared: 0,
      detail: `${countBy(registrations)}: ${registered} registered, the rest refused until the hour's window moves`,
    });

    // 4. Taking over another peer's address, and naming unreachable or internal addresses.
    const mallory = await cluster.proverFor("mallory");
    const hijack = await loginFrom(api, "127.0.0.1", { username: "mallory", password: CHAOS_PASSWORD, address: bob.url, proofKey: mallory.proofKey });
    const metadata = await loginFrom(api, "127.0.0.1", { username: "mallory", password: CHAOS_PASSWORD, address: "http://169.254.169.254:80", proofKey: mallory.proofKey });
    const own = await loginFrom(api, "127.0.0.1", { username: "mallory", password: CHAOS_PASSWORD, address: directory.url, proofKey: mallory.proofKey });
    const bobListed = (await api.peers()).find((p) => p.name === "bob");
    check(hijack.status === 422, `mallory advertising bob's address got ${hijack.status}`);
    check(metadata.status === 400 && own.status === 400, `metadata / directory's own address got ${metadata.status} / ${own.status}`);
    check(bobListed?.address === bob.url && !(await api.peers()).some((p) => p.name === "mallory"), "the peer list changed");
    rows.push({
      scenario: "address takeover: another peer's, the metadata service's, the directory's own",
      outcome: "PASS",
      bytesCompared: 0,
      detail: `bob's address: ${hijack.status} ("${(hijack.json as { message?: string }).message}"); 169.254.169.254: ${metadata.status}; the directory's own: ${own.status}; bob still listed at his address, mallory not listed`,
    });

    // 5. Throwaway accounts with dead addresses publishing a new name for alice's file.
    const sybils: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const dead = `http://127.0.0.1:${1 + i}`;
      sybils.push((await loginFrom(api, `192.0.2.${10 + i}`, { username: `sybil-${i}`, password: CHAOS_PASSWORD, address: dead, proofKey: mallory.proofKey })).status);
    }
    const names = (await api.file(shared.contentId))?.name;
    check(sybils.every((s) => s === 422), `throwaway accounts with dead addresses got ${sybils.join(", ")}`);
    check(names === "holiday.mp4", `the file is shown as ${String(names)}`);
    rows.push({
      scenario: "renaming by throwaway accounts with dead addresses",
      outcome: "PASS",
      bytesCompared: 0,
      detail: `3 logins at dead addresses: ${sybils.join(", ")} (never listed, so they publish nothing); the file is still shown as "${names}"`,
    });
    check(alice.proc !== undefined, "alice's pserver stopped");
    const [first, ...more] = rows as [SubRow, ...SubRow[]];
    return { bytesCompared: 0, detail: first.detail, more };
  } finally {
    await cluster.close();
  }
}

/** The scenario (its first row; the others follow it). */
export function directoryAttacksScenario(): Scenario {
  return { family: "attack", name: `password guessing: ${FLOOD} parallel wrong passwords for one account`, run: directoryAttacks };
}
