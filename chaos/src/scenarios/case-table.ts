// Runs a table of cases as one scenario: one row for the table as a whole, and one FAIL row per known
// bug (cases marked knownFailure), so the findings stand out in the results.
import type { ScenarioResult, SubRow } from "./scenario.js";

/** One case's result. */
export interface CaseResult {
  readonly title: string;
  readonly ok: boolean;
  readonly problem: string;
  readonly knownFailure?: string;
}

/** Folds case results into a scenario result. */
export function tableResult(what: string, results: readonly CaseResult[], rowPrefix: string): ScenarioResult {
  const regular = results.filter((r) => !r.knownFailure);
  const unexpected = regular.filter((r) => !r.ok);
  const byBug = new Map<string, CaseResult[]>();
  for (const r of results.filter((c) => c.knownFailure)) byBug.set(r.knownFailure!, [...(byBug.get(r.knownFailure!) ?? []), r]);
  const more: SubRow[] = [...byBug].map(([bug, cases]) => {
    const failing = cases.filter((c) => !c.ok);
    return {
      scenario: `${rowPrefix}: ${cases.map((c) => c.title).join("; ")}`.slice(0, 160),
      outcome: failing.length > 0 ? "FAIL" : "PASS",
      bytesCompared: 0,
      detail:
        failing.length > 0
          ? `${bug}. ${failing.map((c) => `[${c.title}] ${c.problem}`).join(" ").slice(0, 700)}`
          : `now answered as expected (was a known bug: ${bug}); remove knownFailure from these cases`,
    };
  });
  return {
    outcome: unexpected.length === 0 ? "PASS" : "FAIL",
    bytesCompared: 0,
    detail:
      `${regular.length - unexpected.length} of ${regular.length} ${what} answered as expected` +
      (unexpected.length > 0 ? `; failing: ${unexpected.map((c) => `[${c.title}] ${c.problem}`).join(" ").slice(0, 900)}` : "") +
      (byBug.size > 0 ? `; ${results.length - regular.length} more cases expose known bugs (rows below)` : ""),
    more,
  };
}
