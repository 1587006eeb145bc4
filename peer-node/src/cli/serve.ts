// `peer-node serve`: runs a pserver in this process until asked to stop.
import { parseArgs } from "node:util";
import { missingPserverSettings } from "../../bin/node-flags.js";
import { loadServeConfig, SERVE_SETTINGS, type Settings } from "../config.js";
import { startPserver, stdoutLogger } from "../pserver.js";
import type { CliIo } from "./context.js";
import { USAGE } from "./usage.js";

/** `serve`: reads and validates the configuration, starts the pserver, closes it on SIGINT/SIGTERM. */
export async function serve(args: string[], io: CliIo): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    io.stdout.write(USAGE);
    return 0;
  }
  const options: Record<string, { type: "string"; short?: string }> = { "env-file": { type: "string" } };
  for (const s of SERVE_SETTINGS) options[s.key] = { type: "string" };
  options.username = { type: "string" };
  const { values } = parseArgs({ args, options, allowPositionals: false, strict: true });
  const flags: Record<string, string | undefined> = { ...(values as Record<string, string | undefined>) };
  if (flags.name === undefined && flags.username !== undefined) flags.name = flags.username;
  delete flags.username;
  const config = loadServeConfig(flags as Settings, io.env, io.cwd);
  const logger = stdoutLogger({ level: config.logLevel, name: "pserver" });
  const missing = missingPserverSettings(process.execArgv, io.env);
  if (missing.length > 0) {
    logger.warn(
      { missingSettings: missing },
      `The pserver runs without ${missing.join(" ")}: downloads cost more CPU and run slower (bin/node-flags.js says how much and why). ` +
        `Start it as ./bin/peer-node.js (its first line sets them), or set them yourself.`,
    );
  }
  const pserver = await startPserver({
    name: config.name,
    password: config.password,
    directoryUrl: config.directoryUrls,
    sharedDir: config.sharedDir,
    dataDir: config.dataDir,
    host: config.host,
    port: config.port,
    advertisedAddress: config.advertisedAddress,
    webDir: config.webDir,
    trustedOrigins: config.trustedOrigins,
    uploadBytesPerSecond: config.uploadBytesPerSecond,
    allowHosts: config.allowHosts,
    tls: config.tls,
    tlsCa: config.tlsCa,
    logger,
    gateway: config.gatewayMaxTabs === 0 ? false : { maxTabs: config.gatewayMaxTabs, streamsPerTab: config.gatewayStreamsPerTab, relayBudgetBytes: config.gatewayRelayBudgetBytes },
  });
  io.stdout.write(
    `pserver "${config.name}" on ${pserver.url}\n  shared folder: ${config.sharedDir}\n  directory:     ${config.directoryUrls.join(", ")}\n` +
      (config.webDir ? `  open ${pserver.url}/ in a browser\n` : "") +
      (config.password === undefined ? `  not logged in: log in from the tab or with \`peer-node login --url ${pserver.url}\`\n` : ""),
  );
  const signal = await (io.interrupted ?? new Promise<string>(() => {}));
  io.stdout.write(`${signal}: stopping (logging out of the directory)...\n`);
  await pserver.close();
  return 0;
}
