import { describeError, type Action } from "../client/errors.js";

/**
 * Turns an error into a sentence and lets the app react to it (a session that ended logs the tab
 * out). State classes get one from the app and never show raw errors.
 */
export type ErrorReporter = (error: unknown, action: Action) => string;

/** A reporter that only describes, for state classes used on their own (tests). */
export const describeOnly: ErrorReporter = (error, action) => describeError(error, action);
