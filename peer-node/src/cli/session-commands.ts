// The commands about the session with a pserver: login, logout, status.
import { createInterface } from "node:readline";
import { ConfigError } from "../config.js";
import type { CliIo, CommandContext } from "./context.js";

/** `login`: opens a session (the password from --password, PEER_PASSWORD or the terminal) and saves it. */
export async function login(ctx: CommandContext): Promise<number> {
  let username = ctx.values.username as string | undefined;
  if (!username) {
    // The pserver knows its own name; asking it saves typing and avoids a PermissionDenied.
    username = (await ctx.client.getStatus({})).peerName;
  }
  const password = (ctx.values.password as string | undefined) ?? ctx.io.env.PEER_PASSWORD ?? (await askPassword(ctx.io, `Password for ${username}: `));
  const res = await ctx.client.login({ username, password });
  await ctx.saveSession({ token: res.sessionToken, peerName: res.peerName });
  ctx.io.stdout.write(`Logged in to ${ctx.url} as ${res.peerName}. Session saved in ${ctx.tokenFile}.\n`);
  return 0;
}

/** `logout`: ends the session (the peer goes offline at the directory) and forgets it. */
export async function logout(ctx: CommandContext): Promise<number> {
  await ctx.loadSession();
  await ctx.client.logout({});
  await ctx.saveSession(undefined);
  ctx.io.stdout.write(`Logged out; ${ctx.url} is offline at the directory.\n`);
  return 0;
}

/** `status`: who the pserver is, and with a session, how its directory link is. */
export async function status(ctx: CommandContext): Promise<number> {
  await ctx.loadSession(false);
  const s = await ctx.client.getStatus({});
  const lines = [
    `peer:       ${s.peerName} (pserver ${s.version})`,
    `logged in:  ${s.loggedIn ? "yes" : "no"}`,
    `session:    ${s.sessionValid ? "valid" : "none (run peer-node login)"}`,
  ];
  if (s.sessionValid) {
    lines.push(
      `directory:  ${s.directoryUrl} (${s.directoryReachable ? "reachable" : "unreachable"})`,
      `heartbeat:  ${s.lastHeartbeatAt ? new Date(Number(s.lastHeartbeatAt.seconds) * 1000).toISOString() : "never"}`,
      `address:    ${s.address}`,
      `files:      ${s.fileCount}`,
    );
  }
  ctx.io.stdout.write(lines.join("\n") + "\n");
  return 0;
}

/** Reads a password: hidden on a terminal, one line from a pipe otherwise. */
async function askPassword(io: CliIo, prompt: string): Promise<string> {
  const rl = createInterface({ input: io.stdin, output: io.stdin.isTTY ? io.stderr : undefined, terminal: io.stdin.isTTY === true });
  if (io.stdin.isTTY) {
    io.stderr.write(prompt);
    // Echo nothing while the password is typed.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  }
  try {
    const line = await new Promise<string>((resolve, reject) => {
      rl.once("line", resolve);
      rl.once("close", () => reject(new ConfigError("No password given (use --password, PEER_PASSWORD, or type it).")));
    });
    if (io.stdin.isTTY) io.stderr.write("\n");
    return line;
  } finally {
    rl.close();
  }
}
