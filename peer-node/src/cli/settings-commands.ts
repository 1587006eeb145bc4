// `peer-node settings`: shows this pserver's settings, or changes them (whom it takes pushes from).
import { formatBytes } from "@p2p/units";
import { ConfigError } from "../config.js";
import { PushAccept } from "../gen.js";
import type { CommandContext } from "./context.js";

const ACCEPT: Record<string, PushAccept> = { nobody: PushAccept.NOBODY, listed: PushAccept.LISTED, anyone: PushAccept.ANYONE };

/**
 * `settings` shows the push setting; with --accept, --from, --max-file or --quota it changes it first
 * (what is not given stays as it is).
 */
export async function settings(ctx: CommandContext): Promise<number> {
  await ctx.loadSession();
  const v = ctx.values;
  const changing = ["accept", "from", "max-file", "quota"].some((k) => v[k] !== undefined);
  let current = (await ctx.client.getSettings({})).settings?.pushPolicy;
  if (changing) {
    const accept = v.accept as string | undefined;
    if (accept !== undefined && ACCEPT[accept] === undefined) throw new ConfigError(`--accept must be nobody, listed or anyone, got "${accept}".`);
    const from = v.from as string | undefined;
    const size = (flag: string, fallback: bigint | undefined): bigint => {
      const text = v[flag] as string | undefined;
      if (text === undefined) return fallback ?? 0n;
      try {
        return BigInt(parseSize(text));
      } catch {
        throw new ConfigError(`--${flag} must be a size like 500M or 2G, got "${text}".`);
      }
    };
    const res = await ctx.client.updateSettings({
      pushPolicy: {
        accept: accept !== undefined ? ACCEPT[accept]! : (current?.accept ?? PushAccept.UNSPECIFIED),
        from: from !== undefined ? from.split(",").map((s) => s.trim()).filter(Boolean) : (current?.from ?? []),
        maxFileBytes: size("max-file", current?.maxFileBytes),
        quotaBytes: size("quota", current?.quotaBytes),
      },
    });
    current = res.settings?.pushPolicy;
  }
  const p = current;
  const who = !p || p.accept === PushAccept.NOBODY ? "nobody" : p.accept === PushAccept.ANYONE ? "anyone" : `only ${p.from.join(", ") || "(no peer listed)"}`;
  ctx.io.stdout.write(
    [
      `pushes from:  ${who}`,
      `largest file: ${formatBytes(Number(p?.maxFileBytes ?? 0n))}`,
      `quota:        ${formatBytes(Number(p?.quotaUsedBytes ?? 0n))} used of ${formatBytes(Number(p?.quotaBytes ?? 0n))}`,
    ].join("\n") + "\n",
  );
  return 0;
}

/** A size like 1048576, 500K, 10M or 2G (binary multiples), as for --upload-rate but without its floor. */
function parseSize(text: string): number {
  if (text === "0") return 0;
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!match) throw new Error("not a size");
  const scale = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[match[2]!.toUpperCase() as "" | "K" | "M" | "G" | "T"];
  const bytes = Math.floor(Number(match[1]) * scale);
  if (!Number.isSafeInteger(bytes)) throw new Error("too large");
  return bytes;
}
