// What stands between a login request and a session: the login and registration limits, the bounded
// password work and the address rules and verification, with their counters for /metrics. The
// directory service (directory.ts) calls it at each step of a login; it throws DirectoryErrors.

import type { AddressProofOptions } from "./address-proof.js";
import { verifyAddress } from "./address-proof.js";
import { addressFormProblem, type ParsedAddress, parseAddress, resolveAddress } from "./address-policy.js";
import { isRefusal, type LimitRefusal, type LoginAttempt, type LoginLimitSettings, LoginLimits } from "./login-limits.js";
import { PasswordGate, PasswordQueueFull } from "./password-gate.js";
import { PASSWORD_PRIORITY_QUEUE_LENGTH, PASSWORD_QUEUE_FULL_RETRY_AFTER_SECONDS } from "../constants.js";
import { DirectoryError } from "../errors.js";

/** What the guard enforces. */
export interface LoginGuardOptions {
  /** Login and registration limits. */
  limits: LoginLimitSettings;
  /** scrypt computations at once. */
  passwordConcurrency: number;
  /** Password checks waiting in the normal lane. */
  passwordQueueLength: number;
  /** Whether an advertised address must prove itself before a session opens. */
  verifyAddresses: boolean;
  /** Whether loopback and private addresses may be advertised. */
  allowPrivateAddresses: boolean;
  /** The port this directory listens on, once it does (its own address is refused). */
  selfPort: () => number | undefined;
  /** Call-back tuning (tests shorten it; a CA for https peers). */
  proof?: AddressProofOptions;
  /** Clock of the limits (tests). */
  now?: () => number;
}

/** Address verifications by outcome, for /metrics. */
interface VerificationCounts {
  verified: number;
  refused: number;
}

/** The login guard of one directory process. */
export class LoginGuard {
  readonly limits: LoginLimits;
  readonly gate: PasswordGate;
  readonly verifyAddresses: boolean;
  readonly #options: LoginGuardOptions;
  readonly #verifications: VerificationCounts = { verified: 0, refused: 0 };
  #registrations = 0;

  /** Creates the guard. */
  constructor(options: LoginGuardOptions) {
    this.#options = options;
    this.verifyAddresses = options.verifyAddresses;
    this.limits = new LoginLimits(options.limits, options.now);
    this.gate = new PasswordGate(options.passwordConcurrency, options.passwordQueueLength, PASSWORD_PRIORITY_QUEUE_LENGTH);
  }

  /** Checks the advertised address's form and the proof key's presence, before any work is spent. */
  checkAddress(address: string, proofKey: string | undefined): ParsedAddress {
    const parsed = parseAddress(address);
    const problem = addressFormProblem(parsed, this.#options.allowPrivateAddresses, this.#options.selfPort());
    if (problem) throw new DirectoryError("invalid_argument", `body/address ${problem}`);
    if (this.verifyAddresses && proofKey === undefined) {
      throw new DirectoryError(
        "invalid_argument",
        "body/proofKey is required: this directory calls the advertised address back and the pserver proves it with this key",
      );
    }
    return parsed;
  }

  /** Admits a login attempt, or throws rate_limited with Retry-After. */
  admit(account: string, ip: string): LoginAttempt {
    const attempt = this.limits.begin(account, ip);
    if (isRefusal(attempt)) throw limited(attempt);
    return attempt;
  }

  /** Admits a registration from `ip`; the returned function takes it back if no account was created. */
  admitRegistration(ip: string): () => void {
    const admitted = this.limits.beginRegistration(ip);
    if (isRefusal(admitted)) throw limited(admitted);
    return admitted;
  }

  /** Counts an account created (for /metrics). */
  registered(): void {
    this.#registrations += 1;
  }

  /** Runs scrypt work through the gate (the priority lane for an account's usual IP); 503 when the lane is full. */
  async password<T>(attempt: LoginAttempt, work: () => Promise<T>): Promise<T> {
    try {
      return await this.gate.run(attempt.usualAddress, work);
    } catch (error) {
      if (!(error instanceof PasswordQueueFull)) throw error;
      throw new DirectoryError(
        "unavailable",
        `the directory is busy checking passwords: retry in ${PASSWORD_QUEUE_FULL_RETRY_AFTER_SECONDS} s`,
        { retryAfterSeconds: PASSWORD_QUEUE_FULL_RETRY_AFTER_SECONDS },
      );
    }
  }

  /**
   * Resolves and checks the address, then calls it back until it proves `proofKey` (when verification
   * is on); throws unverified_address naming why. A failure counts against the caller's IP like a wrong
   * password, so an account cannot make the directory probe the network without limit.
   */
  async verify(parsed: ParsedAddress, proofKey: string | undefined, ip: string): Promise<void> {
    const resolved = await resolveAddress(parsed, this.#options.allowPrivateAddresses);
    let problem = "problem" in resolved ? resolved.problem : undefined;
    if (problem === undefined && this.verifyAddresses && "ip" in resolved) {
      problem = await verifyAddress(parsed, resolved.ip, proofKey as string, this.#options.proof);
    }
    if (problem === undefined) {
      if (this.verifyAddresses) this.#verifications.verified += 1;
      return;
    }
    this.#verifications.refused += 1;
    this.limits.ipFailed(ip);
    throw new DirectoryError("unverified_address", `body/address ${parsed.canonical} ${problem}`);
  }

  /** Prometheus lines of the limits, the password gate and address verification. */
  metricsText(): string {
    const gate = this.gate.stats();
    const lines: string[] = [];
    const metric = (name: string, type: "counter" | "gauge", help: string, values: Array<[string, number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of values) lines.push(`${name}${labels} ${value}`);
    };
    metric("directory_login_failures_total", "counter", "Logins refused for a wrong password.", [["", this.limits.failures]]);
    metric("directory_login_refused_total", "counter", "Login and registration attempts refused by a limit, by limit.", [
      ['{limit="account"}', this.limits.refused.account],
      ['{limit="ip"}', this.limits.refused.ip],
      ['{limit="registration"}', this.limits.refused.registration],
    ]);
    metric("directory_registrations_total", "counter", "Accounts registered.", [["", this.#registrations]]);
    metric("directory_password_checks_running", "gauge", "scrypt computations running.", [["", gate.running]]);
    metric("directory_password_checks_queued", "gauge", "Password checks waiting, by lane.", [
      ['{lane="normal"}', gate.queued],
      ['{lane="priority"}', gate.priorityQueued],
    ]);
    metric("directory_password_checks_rejected_total", "counter", "Password checks refused because their lane was full.", [
      ["", gate.rejected],
    ]);
    metric("directory_password_checks_total", "counter", "Password checks that ran.", [["", gate.completed]]);
    metric("directory_address_verifications_total", "counter", "Advertised addresses called back, by outcome.", [
      ['{outcome="verified"}', this.#verifications.verified],
      ['{outcome="refused"}', this.#verifications.refused],
    ]);
    return `${lines.join("\n")}\n`;
  }
}

function limited(refusal: LimitRefusal): DirectoryError {
  return new DirectoryError("rate_limited", refusal.message, { retryAfterSeconds: refusal.retryAfterSeconds });
}
