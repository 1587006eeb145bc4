// Downloader variants against each other: prints figures, asserts nothing. Run:
//   BENCH_VARIANTS='[{"name":"shipped"},{"name":"batch 24","downloader":{"batchPieces":24}}]' npm run bench:variants -w peer-node
// Each variant is {name, downloader?: options of PieceDownloader, peer?: options of PeerClients, env?: for
// both processes (NODE_OPTIONS, or BENCH_NODE_FLAGS for V8 flags NODE_OPTIONS refuses)}; the default is
// the shipped settings alone. Every round runs every variant once, in turn, each on warmed memory from a
// seeder of its own (so the seeder's CPU is the variant's): on these noisy machines a change counts only
// when it beats the spread of the rounds.
// BENCH_RUNS rounds (3), BENCH_BIG_MIB (1024).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fetch, fmt, killChildren, makeFile, mbps, median, MiB, seeder, stop, warmMemory } from "./harness.js";

interface Variant {
  readonly name: string;
  readonly downloader?: object;
  readonly peer?: object;
  readonly env?: Record<string, string>;
}

const BIG_BYTES = Number(process.env.BENCH_BIG_MIB ?? 1024) * MiB;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const variants = JSON.parse(process.env.BENCH_VARIANTS ?? '[{"name":"shipped"}]') as Variant[];
if (!Array.isArray(variants) || variants.length === 0 || variants.some((v) => typeof v?.name !== "string")) {
  throw new Error("BENCH_VARIANTS must be a JSON array of {name, downloader?, peer?, env?}");
}
if (new Set(variants.map((v) => v.name)).size !== variants.length) throw new Error("BENCH_VARIANTS: each variant needs a name of its own");

const root = await mkdtemp(join(tmpdir(), "p2p-variants-"));
try {
  const big = join(root, "files", "big.bin");
  const contentId = await makeFile(big, BIG_BYTES);
  const gib = BIG_BYTES / 2 ** 30;
  const rates = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  console.log(`${variants.length} variants, ${RUNS} rounds, ${BIG_BYTES / MiB} MiB each (MB/s, then CPU-s per GiB of the downloader and of the seeder)`);
  for (let round = 0; round < RUNS; round++) {
    for (const [k, v] of variants.entries()) {
      const env = v.env ?? {};
      await warmMemory(root, BIG_BYTES * 1.5);
      const s = await seeder(root, `seed-${round}-${k}`, big, undefined, env);
      const r = await fetch(root, `fetch-${round}-${k}`, contentId, [{ name: "seed", address: s.address }], {
        ...env,
        BENCH_DOWNLOADER_OPTS: JSON.stringify(v.downloader ?? {}),
        BENCH_PEER_OPTS: JSON.stringify(v.peer ?? {}),
      });
      const seed = await stop(s.child);
      await rm(join(root, `seed-${round}-${k}`), { recursive: true, force: true });
      const rate = mbps(r.bytes, r.seconds);
      rates.get(v.name)!.push(rate);
      console.log(`  round ${round + 1} ${v.name}: ${fmt(rate)} MB/s   downloader ${(r.cpuSeconds / gib).toFixed(2)}   seeder ${seed ? (seed.cpuSeconds / gib).toFixed(2) : "?"}`);
    }
  }
  console.log("best / median MB/s:");
  for (const [name, xs] of rates) console.log(`  ${name}: ${fmt(Math.max(...xs))} / ${fmt(median(xs))}`);
} finally {
  killChildren();
  await rm(root, { recursive: true, force: true });
}
