// How a pserver process is started: Node flags and environment. bin/peer-node.js carries both in its
// shebang (so `npx peer-node` and an installed `peer-node` get them), and whatever starts a pserver with
// `node bin/peer-node.js` (npm start, the benchmark, the chaos harness) passes them itself. A test checks
// that the shebang holds exactly these; `serve` warns when it runs without them (missingPserverSettings).
//
// --max-semi-space-size=1 (MiB; Node 20's default grows to 16): every chunk a download receives arrives
// in an ArrayBuffer of HTTP/2's socket reads, which V8 counts as external memory and frees only when a
// scavenge finds it dead. With the default young generation scavenges came every ~30 MB received, the
// external memory outgrew V8's limit between them, and each crossing forced a full mark-compact: ~30
// per GiB, ~0.4 CPU-s per GiB in all threads. With 1 MiB semi-spaces the scavenges free the buffers
// first: 2 mark-compacts in a 1 GiB download instead of ~30, -12% CPU, +10-15% MB/s, -20 MiB peak RSS
// (peer-node bench, 2026-11-26). It does not help the serving side (measured), nor hurt it.
// A running process cannot take it later (v8.setFlagsFromString does not resize the young generation),
// but NODE_OPTIONS may carry it.
export const PSERVER_NODE_FLAGS = ["--max-semi-space-size=1"];

// GLIBC_TUNABLES (glibc's malloc; other C libraries ignore it): those socket-read buffers are 64 KiB
// mallocs, ~16,000 per GiB, freed in bursts at each scavenge. By default glibc hands the freed top of its
// heap back to the kernel once it exceeds 128 KiB (the trim threshold), so the next reads fault the same
// memory in again: ~120,000 page faults per GiB downloaded. On a VM whose host takes freed memory back
// (page reporting, as on these machines), each fault costs ~12 µs. Keeping up to 64 MiB of freed heap:
// ~14,000 faults per GiB. Setting the trim threshold turns off glibc's sliding mmap threshold, so that
// one is set too: mallocs below 32 MiB (the 1 MiB piece buffers) come from the heap, not from an mmap
// each (~13,000 faults). Together: 2.5 -> 1.0 s of system time per GiB, 210-230 -> 350-370 MB/s with the
// seeder set alike, +10 MiB peak RSS (peer-node bench, 2026-11-26). The memory stays in the process for
// reuse instead of going back to the kernel after each burst.
//
// glibc.malloc.arena_max=1: one malloc arena for all the process's threads. By default each thread that
// mallocs may get an arena of its own, and with the trim threshold above an arena keeps up to 64 MiB of
// what it freed: the pserver went online with ~30 MiB resident in one V8 platform thread's arena, freed
// at start and never used again (the WebAssembly compile of undici's HTTP parser, which the pserver no
// longer loads: src/directory/http-json.ts), and then grew the main arena by ~35 MiB of HTTP/2 read buffers and
// pieces during a download. With one arena the download reuses what the start freed: the real pserver's
// VmHWM downloading 256 MiB fell from 152.5-153.9 to 116.6-121.4 MiB, its idle RSS by ~5 MiB, its page
// faults from ~44,000 to ~14,000 per GiB, at the same CPU per GiB (3 paired rounds, load 12-18, bench:real).
// Threads that malloc at once now share one lock; on these 2-core machines that cost nothing measurable.
// Both are colon-separated lists where a later entry wins: ours go first, so a tunable the user set
// stays the user's (the shebang appends `${GLIBC_TUNABLES}`; pserverEnv does the same).
export const PSERVER_ENV = { GLIBC_TUNABLES: "glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=33554432:glibc.malloc.arena_max=1" };

/** `base` with PSERVER_ENV's lists put before its own values, for spawning a pserver. */
export function pserverEnv(base = process.env) {
  const env = { ...base };
  for (const [name, value] of Object.entries(PSERVER_ENV)) env[name] = base[name] ? `${value}:${base[name]}` : value;
  return env;
}

/**
 * The pserver settings this process runs without, as `--flag=value` or `NAME=value`: a flag that neither
 * Node's own arguments (`execArgv`) nor NODE_OPTIONS set, whatever the value (a user who chose another one
 * has chosen; V8 reads `_` and `-` alike in a name), and a glibc tunable that GLIBC_TUNABLES does not name
 * (only where the C library is glibc; `glibc` says whether it is, else the process finds out).
 */
export function missingPserverSettings(execArgv = process.execArgv, env = process.env, glibc = undefined) {
  const flagName = (arg) => arg.split("=")[0].replaceAll("_", "-");
  const given = new Set([...execArgv, ...(env.NODE_OPTIONS ?? "").split(/\s+/)].map(flagName));
  const missing = PSERVER_NODE_FLAGS.filter((flag) => !given.has(flagName(flag)));
  const tunableName = (t) => t.split("=")[0];
  const set = new Set((env.GLIBC_TUNABLES ?? "").split(":").map(tunableName));
  const absent = PSERVER_ENV.GLIBC_TUNABLES.split(":").filter((t) => !set.has(tunableName(t)));
  // Asked only when something is absent: the C library's name comes from a diagnostic report (~9 ms).
  if (absent.length > 0 && (glibc ?? runsOnGlibc())) missing.push(`GLIBC_TUNABLES=${absent.join(":")}`);
  return missing;
}

function runsOnGlibc() {
  return process.platform === "linux" && typeof process.report?.getReport?.().header?.glibcVersionRuntime === "string";
}
