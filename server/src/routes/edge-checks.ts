// What the JSON schemas cannot say, checked at the edge before the directory service sees the input:
// UTF-8 byte lengths and the finer points of URLs (the rules are @p2p/directory-api's). Each failure
// names the field, like the schema errors.

import {
  addressProblem,
  fileNameProblem,
  MAX_FILES_PER_REQUEST,
  passwordProblem,
  pieceSizeFor,
  queryLengthProblem,
} from "@p2p/directory-api";
import { DirectoryError } from "../errors.js";

/** Throws invalid_argument for `field` when `problem` names one. */
function check(field: string, problem: string | undefined): void {
  if (problem !== undefined) throw new DirectoryError("invalid_argument", `${field} ${problem}`);
}

/** Checks the password's length in UTF-8 bytes. */
export function checkPassword(password: string): void {
  check("body/password", passwordProblem(password));
}

/** Checks that an advertised address is a usable http(s) base URL with a real port (a relay path naming `peerName`). */
export function checkAddress(address: string, peerName: string): void {
  check("body/address", addressProblem(address, peerName));
}

/** Checks each file name's length in UTF-8 bytes (the schema counts characters). */
export function checkFileNames(files: ReadonlyArray<{ name: string }>, path: string): void {
  files.forEach((file, i) => check(`${path}/${i}/name`, fileNameProblem(file.name)));
}

/** Checks that each file's piece size is the one its content id was computed with (pieceSizeFor its size). */
export function checkPieceSizes(files: ReadonlyArray<{ size: number; pieceSize: number }>, path: string): void {
  files.forEach((file, i) => {
    const expected = pieceSizeFor(file.size);
    if (file.pieceSize !== expected) check(`${path}/${i}/pieceSize`, `must be ${expected} for a file of ${file.size} bytes (docs/content-ids.md)`);
  });
}

/** Checks that a delta names at most MAX_FILES_PER_REQUEST files in all. */
export function checkDeltaSize(add: readonly unknown[], remove: readonly unknown[]): void {
  if (add.length + remove.length > MAX_FILES_PER_REQUEST) {
    throw new DirectoryError(
      "invalid_argument",
      `body/add and body/remove together must name at most ${MAX_FILES_PER_REQUEST} files`,
    );
  }
}

/** Checks the search query's length in UTF-8 bytes. */
export function checkQuery(query: string): void {
  check("querystring/q", queryLengthProblem(query));
}
