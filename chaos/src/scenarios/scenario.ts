// What every scenario returns, and how the runner turns one run into a table row: a scenario that
// throws is a FAIL with the reason, never the end of the run.

/** The outcome of one scenario. */
export type Outcome = "PASS" | "FAIL" | "SKIP";

/** What a scenario reports when it finishes without throwing. */
export interface ScenarioResult {
  /** PASS unless said otherwise (SKIP when the machine cannot run it; FAIL for a known failing case). */
  readonly outcome?: Outcome;
  /** Bytes compared against the original (downloads, pushes) or checked (index rows as bytes of JSON). */
  readonly bytesCompared: number;
  /** One line for the table: what happened, with the figures a user would ask for. */
  readonly detail: string;
  /** More rows from the same run (a scenario that proves several things at once reports each). */
  readonly more?: readonly SubRow[];
}

/** A further row of one scenario run. */
export interface SubRow {
  readonly scenario: string;
  readonly outcome: Outcome;
  readonly bytesCompared: number;
  readonly detail: string;
}

/** A named scenario. */
export interface Scenario {
  /** The table's "scenario" column. */
  readonly name: string;
  /** The scenario family (fault, bad input, authorization, load): the sections of the report. */
  readonly family: string;
  run(): Promise<ScenarioResult>;
}

/** One row of the results table. */
export interface ScenarioRow {
  readonly family: string;
  readonly scenario: string;
  readonly outcome: Outcome;
  readonly bytesCompared: number;
  readonly durationMs: number;
  readonly detail: string;
}

/** A check a scenario makes; a failure message says what a user would have seen go wrong. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Runs a scenario and returns its rows; errors become a FAIL row with their message. */
export async function runScenario(scenario: Scenario): Promise<ScenarioRow[]> {
  const started = Date.now();
  try {
    const result = await scenario.run();
    const durationMs = Date.now() - started;
    return [
      {
        family: scenario.family,
        scenario: scenario.name,
        outcome: result.outcome ?? "PASS",
        bytesCompared: result.bytesCompared,
        durationMs,
        detail: result.detail,
      },
      ...(result.more ?? []).map((row) => ({ family: scenario.family, durationMs, ...row })),
    ];
  } catch (error) {
    return [{
      family: scenario.family,
      scenario: scenario.name,
      outcome: "FAIL",
      bytesCompared: 0,
      durationMs: Date.now() - started,
      detail: (error instanceof Error ? error.message : String(error)).split("\n").slice(0, 6).join(" | "),
    }];
  }
}
