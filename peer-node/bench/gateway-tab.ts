// The browser peer of the gateway benchmark: the test tab (test/gateway/test-tab.ts: GatewayService
// through the Connect client over HTTP/1.1, binary, as a browser speaks it) serving one file from disk, in
// its own process. argv[2]: JSON {gatewayUrl, name, password, file, protocol?}. Prints
// "ready <relay address> <content id>" once attached and published; stops on SIGTERM.
import { readFileSync } from "node:fs";
import { TestTab, type TabProtocol } from "../test/gateway/test-tab.js";

const args = JSON.parse(process.argv[2]!) as { gatewayUrl: string; name: string; password: string; file: string; protocol?: TabProtocol };
const tab = new TestTab(args.gatewayUrl, args.name, args.password, args.protocol ?? "connect-binary");
await tab.login();
await tab.attach();
const contentId = await tab.addFile(args.file);
process.stdout.write(`ready ${tab.relayAddress} ${contentId}\n`);
// The figures stop() reads on the way out: CPU of all threads since ready, peak RSS.
const cpuBefore = process.cpuUsage();
process.once("SIGTERM", () => {
  const cpu = process.cpuUsage(cpuBefore);
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
  process.stdout.write(`stats ${JSON.stringify({ cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssBytes: hwm ? Number(hwm[1]) * 1024 : 0 })}\n`);
  void tab.close().then(() => process.exit(0));
});
