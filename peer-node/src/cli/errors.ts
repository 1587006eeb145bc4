// What went wrong in a one-shot command, in words for the person at the terminal: the real cause (nothing
// listens at the URL, a wrong password, a session that ended, something that is not a pserver) and what to
// do next. A pserver's own answers carry a reason (the ErrorDetail every one of its errors has); an error
// without one never came from a pserver, so it tells about the connection or about what answered instead.
import { Code, ConnectError } from "@connectrpc/connect";
import { PeerError } from "../errors.js";
import { reasonOf } from "../rpc/error-mapping.js";

/** Where the error happened: the command and the pserver URL it was driving. */
export interface ErrorScene {
  readonly command: string;
  readonly url: string;
}

/** The error system-call code (ECONNREFUSED, ENOTFOUND, ...) somewhere in an error's chain of causes. */
function systemCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && /^E[A-Z_]+$/.test(code)) return code;
    e = e.cause;
  }
  return undefined;
}

/** `peer-node serve` with the URL's port, as a person would start a pserver for that URL. */
function serveCommand(url: string): string {
  const port = new URL(url).port;
  return `peer-node serve${port ? ` --port ${port}` : ""}`;
}

/** Node's codes for a certificate it will not trust (tls.TLSSocket's authorizationError and friends). */
const UNTRUSTED_CERTIFICATE = /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_UNTRUSTED|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/** The TLS code (DEPTH_ZERO_SELF_SIGNED_CERT, ...) somewhere in an error's chain of causes. */
function certificateCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e instanceof Error; depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && UNTRUSTED_CERTIFICATE.test(code)) return code;
    e = e.cause;
  }
  return undefined;
}

/** Why a connection to the pserver at `url` failed, and what to try, from the system error code. */
function connectionProblem(err: ConnectError, url: string): string {
  const tls = certificateCode(err);
  if (tls !== undefined) {
    return (
      `The certificate of ${url} is not trusted (${tls}). If the pserver uses a private CA or a self-signed ` +
      `certificate, give that certificate with --ca FILE (PEER_CA); if the name does not match, use the host name the certificate is for.`
    );
  }
  const code = systemCode(err);
  switch (code) {
    case "ECONNREFUSED":
      return (
        `Nothing answers at ${url}: is the pserver running? Start it with "${serveCommand(url)}" ` +
        `(peer-node --help lists its options; "npm start" in the project runs a directory and two pservers), ` +
        `or give the address of a running one with --url.`
      );
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `The host of ${url} is not known (${code}): check the address given with --url or PEER_URL.`;
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
    case "EHOSTDOWN":
      return `Nothing answers at ${url} (${code}): check the address given with --url or PEER_URL, and that the pserver's machine is up.`;
    default:
      return `The connection to ${url} broke (${err.rawMessage}): is the pserver still running? Then run the command again (peer-node transfers lists what it is doing).`;
  }
}

/** The words for an error of a one-shot command (one or more sentences, no trailing newline). */
export function describeCliError(err: unknown, scene: ErrorScene): string {
  const { command, url } = scene;
  // Found by the CLI itself before or instead of a call (no saved session, say): its sentence says it all.
  if (err instanceof PeerError) return err.message;
  if (!(err instanceof ConnectError)) return err instanceof Error ? err.message : String(err);
  const reason = reasonOf(err);
  if (reason === undefined) {
    // The client's own transport failed (refused, reset, no route): connect-node says Unavailable or
    // Unknown and keeps the system error as the cause.
    if (systemCode(err) !== undefined || certificateCode(err) !== undefined || err.code === Code.Unavailable || err.code === Code.Unknown) return connectionProblem(err, url);
    // An HTTP answer, but no pserver's: a 404 page, a proxy, or the directory's address given by mistake.
    return `${url} answered, but not as a pserver (${err.rawMessage}): give a pserver's address with --url, not the directory's or another server's.`;
  }
  switch (reason) {
    case "WRONG_PASSWORD":
      return `The password was refused (${err.rawMessage}). Try again with this peer's password (the one its name was registered with at its first login; "npm start" prints the ones it made).`;
    case "SESSION_EXPIRED":
      if (command === "login") return err.rawMessage;
      return `Your session with ${url} has ended (the pserver restarted, the session was idle for long, or it was logged out): run peer-node login --url ${url} to log in again.`;
    default:
      return err.rawMessage;
  }
}
