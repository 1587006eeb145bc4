// Domain errors of the client side (sessions, imports, ClientService rules). They say what is wrong in
// words for a person; src/rpc/client-service.ts turns each into its Connect code.

/** The caller sent something malformed or out of bounds. */
export class InvalidInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidInputError";
  }
}

/** The named thing (import, transfer, file) does not exist here. */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotFoundError";
  }
}

/** The thing asked for already exists (e.g. the file is already in the shared folder). */
export class AlreadyExistsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AlreadyExistsError";
  }
}

/** The request is valid but cannot run in the current state (e.g. chunks still missing). */
export class PreconditionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PreconditionError";
  }
}

/** A limit (disk space, imports per session) would be exceeded. */
export class LimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LimitError";
  }
}

/** Received bytes do not hash to the promised content id; they were discarded. */
export class IntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IntegrityError";
  }
}

/** The caller may not do this (e.g. log in as a name other than this pserver's). */
export class ForbiddenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ForbiddenError";
  }
}
