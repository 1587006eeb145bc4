// A directory and two pserver processes (alice with a file, bob with another), with alice's client
// session, for the bad-input, fuzzing and authorization cases against PeerService and ClientService.
import { Cluster, type PeerProcess } from "../harness/cluster.js";
import { fakeContentId } from "../harness/directory-api.js";
import { folderSnapshot, writeRandomFile, type KnownFile } from "../harness/files.js";
import type { SessionClient } from "../harness/rpc-clients.js";

/** Size of the import the fixture leaves unfinished. */
const IMPORT_BYTES = 2 * 1024 * 1024 + 512 * 1024;

/** The running fixture. */
export interface RpcFixture {
  readonly cluster: Cluster;
  readonly alice: PeerProcess;
  readonly bob: PeerProcess;
  readonly aliceFile: KnownFile;
  readonly bobFile: KnownFile;
  /** A client session on alice. */
  readonly session: SessionClient;
  /** An unfinished import on alice (3 chunks, none sent). */
  readonly importId: string;
  readonly importChunkBytes: number;
  /** Everything a hostile call must not change: both folders, alice's list and transfers, the directory's view. */
  state(): Promise<string>;
  /** Whether alice still answers Ping. */
  serving(): Promise<boolean>;
  close(): Promise<void>;
}

/** Starts the fixture. */
export async function startRpcFixture(label: string): Promise<RpcFixture> {
  const cluster = await Cluster.create(label);
  try {
    await cluster.startDirectory();
    const aliceFile = await writeRandomFile(await cluster.sharedDirOf("alice"), "alice-notes.bin", 300_000);
    const bobFile = await writeRandomFile(await cluster.sharedDirOf("bob"), "bob-song.bin", 200_000);
    const [alice, bob] = await Promise.all([cluster.startPeer("alice"), cluster.startPeer("bob")]);
    await cluster.waitForHolders(aliceFile.contentId, ["alice"]);
    await cluster.waitForHolders(bobFile.contentId, ["bob"]);
    // Alice takes pushes, so the PushFile cases reach the ticket and the manifest (consent has its own
    // cases in open-network.ts).
    await alice!.acceptPushes();
    const session = await alice!.session();
    const begun = await session.client.beginImport({ name: "import-in-progress.bin", size: BigInt(IMPORT_BYTES), contentId: fakeContentId("a") });
    const api = cluster.directory!.api;
    return {
      cluster,
      alice,
      bob,
      aliceFile,
      bobFile,
      session,
      importId: begun.importId,
      importChunkBytes: begun.chunkSize,
      async state() {
        const files = (await session.client.listFiles({})).files.map((f) => `${f.contentId} ${f.name} ${f.size}`);
        const transfers = (await session.client.listTransfers({})).transfers.length;
        const holders = [await api.holderNames(aliceFile.contentId), await api.holderNames(bobFile.contentId)];
        const peers = (await api.peers()).map((p) => `${p.name} ${p.address}`);
        return JSON.stringify({
          alice: await folderSnapshot(alice.sharedDir),
          bob: await folderSnapshot(bob.sharedDir),
          files,
          transfers,
          holders,
          peers,
        });
      },
      async serving() {
        try {
          return (await alice.peer().ping({ from: "chaos" })).peerName === "alice";
        } catch {
          return false;
        }
      },
      close: () => cluster.close(),
    };
  } catch (error) {
    await cluster.close();
    throw error;
  }
}
