// A directory process with two peers' sessions, an index and a push ticket, for the bad-input and
// fuzzing cases against its REST API.
import { CHAOS_PASSWORD } from "../constants.js";
import { Cluster, type DirectoryProcess } from "../harness/cluster.js";
import { type DirectoryApi, fakeContentId, type IndexFile } from "../harness/directory-api.js";
import { directoryDigest, type DirectoryDigest } from "../harness/directory-state.js";

/** What the hostile cases refer to. */
export interface RestContext {
  /** alice's bearer token. */
  readonly tokenA: string;
  /** bob's bearer token. */
  readonly tokenB: string;
  /** A content id bob holds. */
  readonly heldContentId: string;
  /** A content id nobody holds, for which alice got a push ticket to bob. */
  readonly ticketContentId: string;
  /** That ticket (issued to bob, for ticketContentId). */
  readonly ticket: string;
}

/** A running directory with its context. */
export interface RestFixture {
  readonly cluster: Cluster;
  readonly directory: DirectoryProcess;
  readonly api: DirectoryApi;
  readonly ctx: RestContext;
  /** The directory's rows right now. */
  digest(): Promise<DirectoryDigest>;
  close(): Promise<void>;
}

/** Starts the directory (default limits; sessions that outlive the run) and fills it. */
export async function startRestFixture(label: string): Promise<RestFixture> {
  const cluster = await Cluster.create(label);
  try {
    // Long heartbeats and a rare sweep: nothing changes in the background while rows are compared.
    const directory = await cluster.startDirectory({ heartbeatIntervalMs: 3_600_000, sweepIntervalMs: 3_600_000 });
    const api = directory.api;
    const [aliceAt, bobAt] = [await cluster.proverFor("alice"), await cluster.proverFor("bob")];
    const alice = await api.login("alice", CHAOS_PASSWORD, aliceAt.address, aliceAt.proofKey);
    const bob = await api.login("bob", CHAOS_PASSWORD, bobAt.address, bobAt.proofKey);
    // bob takes pushes, so alice can be issued a ticket for him.
    await api.putPushPolicy(bob.token, { accept: "anyone", from: [], maxFileBytes: 2 ** 40, quotaBytes: 2 ** 40 });
    const held: IndexFile = { name: "held-by-bob.txt", size: 123, contentId: fakeContentId("b"), pieceSize: 1024 * 1024 };
    await api.putIndex(bob.token, [held]);
    const ticketContentId = fakeContentId("c");
    const { ticket } = await api.uploadTarget(alice.token, ticketContentId, 456, "bob");
    const ctx: RestContext = { tokenA: alice.token, tokenB: bob.token, heldContentId: held.contentId, ticketContentId, ticket };
    return {
      cluster,
      directory,
      api,
      ctx,
      digest: () => directoryDigest(directory.dataDir, api),
      close: () => cluster.close(),
    };
  } catch (error) {
    await cluster.close();
    throw error;
  }
}
