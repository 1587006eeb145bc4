// Fault: a push (PushFile) is interrupted halfway by a SIGKILL of either side. Nothing may be left
// behind on the target: no file in its shared folder or its index, no partial once it runs again; the
// sender must report a clear failure; and a new push afterwards must deliver identical bytes.
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { TransferState, type TransferProgress } from "../gen.js";
import { Cluster, type PeerProcess } from "../harness/cluster.js";
import { expectSameBytes, FolderGuard, PARTIAL_DIR_NAME, type KnownFile } from "../harness/files.js";
import { follow } from "../harness/transfers.js";
import { sleep, waitFor } from "../harness/wait.js";
import { formatBytes, seedFile } from "./common.js";
import { check, type Scenario, type ScenarioResult } from "./scenario.js";

/** Which side is killed. */
export type PushVictim = "sender" | "receiver";

/** Settings of the interrupted-push scenario. */
export interface PushInterruptedOptions {
  readonly victim: PushVictim;
  readonly fileBytes: number;
  /** Fraction of the file on the receiver's disk when the victim is killed. */
  readonly killAtFraction: number;
  readonly timeoutMs: number;
}

const PUSH_PARTIAL_PREFIX = "push-";
const PARTIAL_POLL_MS = 2;

/** Bytes of the receiver's push partial files (0 when there are none). */
async function pushPartialBytes(receiver: PeerProcess): Promise<{ files: number; bytes: number }> {
  const dir = path.join(receiver.sharedDir, PARTIAL_DIR_NAME);
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(PUSH_PARTIAL_PREFIX));
  let bytes = 0;
  for (const name of names) bytes += (await stat(path.join(dir, name)).catch(() => undefined))?.size ?? 0;
  return { files: names.length, bytes };
}

/** Pushes `file` from `sender` to `receiver` through ClientService.Upload and follows it. */
async function upload(sender: PeerProcess, receiver: PeerProcess, file: KnownFile, timeoutMs: number): Promise<TransferProgress> {
  const session = await sender.session();
  await receiver.acceptPushes("listed", [sender.name]);
  // The receiver's pserver sends the policy to the directory at once (one local request): let it land.
  await sleep(1_000);
  return follow(session.client.upload({ contentId: file.contentId, targetPeer: receiver.name }), timeoutMs);
}

/** Checks that the receiver holds nothing of the file: not in its folder, not in its list, not in the index. */
async function expectNothingOnTarget(cluster: Cluster, receiver: PeerProcess, file: KnownFile): Promise<void> {
  const visible = (await readdir(receiver.sharedDir)).filter((n) => n !== PARTIAL_DIR_NAME);
  check(visible.length === 0, `the interrupted push left ${visible.join(", ")} in ${receiver.name}'s shared folder`);
  const { files } = await (await receiver.session()).client.listFiles({});
  check(!files.some((f) => f.contentId === file.contentId), `${receiver.name} lists the file of the interrupted push`);
  const holders = await cluster.directory!.api.holderNames(file.contentId);
  check(!holders.includes(receiver.name), `the directory lists ${receiver.name} as a holder of the interrupted push`);
}

/** Runs the scenario; throws with what went wrong. */
export async function pushInterrupted(options: PushInterruptedOptions): Promise<ScenarioResult> {
  const cluster = await Cluster.create(`push-${options.victim}`);
  try {
    await cluster.startDirectory();
    const file = await seedFile(cluster, ["sender"], "pushed.bin", options.fileBytes);
    const sender = await cluster.startPeer("sender");
    const receiver = await cluster.startPeer("receiver");
    await cluster.waitForHolders(file.contentId, ["sender"]);
    await sender.session();
    await receiver.session();
    const guard = new FolderGuard(receiver.sharedDir, [file]).start();

    // Start the push and watch the receiver's partial file grow; kill the victim at the mark.
    const pushing = upload(sender, receiver, file, options.timeoutMs).then(
      (p) => p,
      (error: unknown) => error as Error,
    );
    const victim = options.victim === "sender" ? sender : receiver;
    let killedAtBytes = 0;
    const deadline = Date.now() + options.timeoutMs;
    let settled: TransferProgress | Error | undefined;
    void pushing.then((r) => (settled = r));
    for (let round = 0; Date.now() < deadline && settled === undefined; round++) {
      const partial = await pushPartialBytes(receiver);
      if (partial.bytes >= options.killAtFraction * options.fileBytes) {
        victim.proc.freeze();
        killedAtBytes = (await pushPartialBytes(receiver)).bytes;
        await victim.kill("SIGKILL");
        break;
      }
      await new Promise((r) => setTimeout(r, PARTIAL_POLL_MS));
    }
    const outcome = await pushing;
    check(killedAtBytes > 0, `the push could not be interrupted: it ended first (${outcome instanceof Error ? outcome.message : TransferState[outcome.state]})`);
    const percent = Math.round((killedAtBytes * 100) / options.fileBytes);

    let senderSaw: string;
    if (options.victim === "receiver") {
      // The sender lives on and must say clearly that the push failed.
      check(!(outcome instanceof Error), `the sender's progress stream broke: ${(outcome as Error).message}`);
      check(outcome.state === TransferState.FAILED, `the sender reported ${TransferState[outcome.state]} for a push whose receiver died`);
      check(outcome.error.length > 10, "the sender's failure has no message for a person");
      senderSaw = `sender reported FAILED: "${outcome.error}"`;
      // Nothing visible while the receiver is down, and nothing at all once it runs again.
      const visible = (await readdir(receiver.sharedDir)).filter((n) => n !== PARTIAL_DIR_NAME);
      check(visible.length === 0, `the killed receiver's shared folder shows ${visible.join(", ")}`);
      await receiver.restart();
      await waitFor(async () => (await pushPartialBytes(receiver)).files === 0, "the restarted receiver to remove the push's partial file", 15_000);
    } else {
      senderSaw = "sender killed";
      await waitFor(async () => (await pushPartialBytes(receiver)).files === 0, "the receiver to remove the push's partial file", 35_000);
      await sender.restart();
      await cluster.waitForHolders(file.contentId, ["sender"]);
    }
    await expectNothingOnTarget(cluster, receiver, file);
    const pinged = await receiver.peer().ping({ from: "chaos" });
    check(pinged.peerName === receiver.name, "the receiver does not answer Ping after the interrupted push");

    // The network recovers: a new push (with a new ticket) delivers the same bytes.
    const again = await upload(sender, receiver, file, options.timeoutMs);
    check(again.state === TransferState.COMPLETED, `a new push after the interruption ended ${TransferState[again.state]}: "${again.error}"`);
    const bytes = await expectSameBytes(receiver.sharedDir, file.name, file);
    const { violations } = await guard.stop();
    check(violations.length === 0, `unverified data appeared in the receiver's shared folder: ${violations.join("; ")}`);
    return {
      bytesCompared: bytes,
      detail:
        `${options.victim} SIGKILLed with ${formatBytes(killedAtBytes)} of ${formatBytes(options.fileBytes)} (${percent}%) on the target; ${senderSaw}; ` +
        `target kept nothing (folder, list, index, partials); a new push then delivered identical bytes`,
    };
  } finally {
    await cluster.close();
  }
}

/** The scenario with the runner's sizes. */
export function pushInterruptedScenario(options: PushInterruptedOptions): Scenario {
  return { family: "fault", name: `push interrupted halfway (${options.victim} killed)`, run: () => pushInterrupted(options) };
}
