// The commands about files and transfers: what is shared here and on the network, and moving files
// (download, upload) with their progress followed until they end.
import { formatBytes } from "@p2p/units";
import { ConfigError } from "../config.js";
import { TransferKind, TransferState, type TransferProgress } from "../gen.js";
import type { CommandContext } from "./context.js";
import { fileRow, KIND, peerRow, STATE, transferRow } from "./format.js";
import { ProgressPrinter } from "./progress.js";

/** `ls`: the files in the pserver's shared folder. */
export async function ls(ctx: CommandContext): Promise<number> {
  await ctx.loadSession();
  const { files } = await ctx.client.listFiles({});
  if (files.length === 0) ctx.io.stdout.write("The shared folder is empty.\n");
  for (const f of files) ctx.io.stdout.write(`${fileRow(f)}\n`);
  return 0;
}

/** `search`: files live peers share, by words of the name or by --content-id. */
export async function search(ctx: CommandContext, query: string): Promise<number> {
  await ctx.loadSession();
  const contentId = (ctx.values["content-id"] as string | undefined) ?? "";
  const limit = ctx.values.limit ? Number(ctx.values.limit) : 0;
  const res = await ctx.client.search({ query: contentId ? "" : query, contentId, limit });
  if (res.results.length === 0) ctx.io.stdout.write("No live peer shares a matching file.\n");
  for (const r of res.results) {
    const holders = r.holders.map((h) => h.name).join(", ");
    ctx.io.stdout.write(`${fileRow(r)}${r.heldLocally ? "  [held here]" : ""}\n    holders: ${holders}\n`);
  }
  if (res.nextOffset) ctx.io.stdout.write(`(more results: narrow the search or use --limit)\n`);
  return 0;
}

/** `peers`: the live peers. */
export async function peers(ctx: CommandContext): Promise<number> {
  await ctx.loadSession();
  const { peers } = await ctx.client.listPeers({});
  for (const p of peers) ctx.io.stdout.write(`${peerRow(p)}\n`);
  if (peers.length === 0) ctx.io.stdout.write("No live peers.\n");
  return 0;
}

/** `download`: fetches a file by content id or exact --name, following it (or not, with --detach). */
export async function download(ctx: CommandContext, contentId: string | undefined): Promise<number> {
  await ctx.loadSession();
  const name = (ctx.values.name as string | undefined) ?? "";
  if (!contentId && !name) throw new ConfigError("download needs a content id, or --name NAME.");
  return follow(ctx, ctx.client.download({ contentId: contentId ?? "", name }));
}

/** `upload`: pushes a held file to --to PEER (or one the directory picks), following it. */
export async function upload(ctx: CommandContext, contentId: string | undefined): Promise<number> {
  await ctx.loadSession();
  if (!contentId) throw new ConfigError("upload needs the content id of a file in the shared folder (see peer-node ls).");
  return follow(ctx, ctx.client.upload({ contentId, targetPeer: (ctx.values.to as string | undefined) ?? "" }));
}

/** `transfers`: running and recent transfers. */
export async function transfers(ctx: CommandContext): Promise<number> {
  await ctx.loadSession();
  const { transfers } = await ctx.client.listTransfers({});
  if (transfers.length === 0) ctx.io.stdout.write("No transfers since the pserver started.\n");
  for (const t of transfers) ctx.io.stdout.write(`${transferRow(t)}\n`);
  return 0;
}

/** `cancel`: stops a transfer. */
export async function cancel(ctx: CommandContext, transferId: string | undefined): Promise<number> {
  await ctx.loadSession();
  if (!transferId) throw new ConfigError("cancel needs a transfer id (see peer-node transfers).");
  await ctx.client.cancelTransfer({ transferId });
  ctx.io.stdout.write(`Cancelled ${transferId}.\n`);
  return 0;
}

/** Shows a transfer's progress until it ends (progress.ts), then how it ended. */
async function follow(ctx: CommandContext, stream: AsyncIterable<{ progress?: TransferProgress }>): Promise<number> {
  const printer = new ProgressPrinter(ctx.io.stderr, ctx.io.stderr.isTTY === true);
  let last: TransferProgress | undefined;
  for await (const { progress } of stream) {
    if (!progress) continue;
    last = progress;
    if (ctx.values.detach) {
      ctx.io.stdout.write(`Started ${KIND[progress.kind]} ${progress.transferId}; it goes on in the pserver.\n`);
      return 0;
    }
    printer.show(progress, Date.now());
  }
  printer.end();
  if (!last) throw new Error("The pserver ended the stream without any progress.");
  const who = last.kind === TransferKind.UPLOAD && last.targetPeer ? ` to ${last.targetPeer}` : "";
  if (last.state === TransferState.COMPLETED) {
    ctx.io.stdout.write(`Done: ${last.name || last.contentId}${who} (${formatBytes(Number(last.bytesTotal))}).\n`);
    return 0;
  }
  ctx.io.stderr.write(`${STATE[last.state]}: ${last.error || "the transfer did not complete"}${who}\n`);
  return 1;
}
