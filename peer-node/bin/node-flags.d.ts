/** The Node flags a pserver process runs with (bin/peer-node.js's shebang carries the same). */
export const PSERVER_NODE_FLAGS: readonly string[];
/** The environment variables a pserver process runs with (the shebang sets the same). */
export const PSERVER_ENV: Readonly<Record<string, string>>;
/** `base` (default: this process's environment) with the pserver's environment lists put first. */
export function pserverEnv(base?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
/** The pserver settings this process (or the given arguments and environment) runs without. */
export function missingPserverSettings(execArgv?: readonly string[], env?: NodeJS.ProcessEnv, glibc?: boolean): string[];
