// What the JSON schemas cannot say, checked at the edge before the directory service sees the input:
// UTF-8 byte lengths and the finer points of URLs. Each failure names the field, like the schema errors.

import { DirectoryError } from "../errors.js";
import {
  FILE_NAME_MAX_BYTES,
  MAX_FILES_PER_REQUEST,
  PASSWORD_MAX_BYTES,
  PASSWORD_MIN_BYTES,
  SEARCH_QUERY_MAX_BYTES,
} from "../constants.js";

function invalid(message: string): DirectoryError {
  return new DirectoryError("invalid_argument", message);
}

/** Checks the password's length in UTF-8 bytes. */
export function checkPassword(password: string): void {
  const bytes = Buffer.byteLength(password, "utf8");
  if (bytes < PASSWORD_MIN_BYTES || bytes > PASSWORD_MAX_BYTES) {
    throw invalid(`body/password must be ${PASSWORD_MIN_BYTES} to ${PASSWORD_MAX_BYTES} UTF-8 bytes long`);
  }
}

/** Checks that an advertised address is a usable http(s) base URL with a real port. */
export function checkAddress(address: string): void {
  // The schema pattern already demands an explicit port; URL drops default ports (":80"), so read it from the text.
  const port = Number(/:(\d+)\/?$/.exec(address)?.[1]);
  if (!(port >= 1 && port <= 65_535)) throw invalid("body/address must have a port from 1 to 65535");
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw invalid("body/address is not a valid URL");
  }
  if (url.hostname === "") throw invalid("body/address must have a host");
}

/** Checks each file name's length in UTF-8 bytes (the schema counts characters). */
export function checkFileNames(files: ReadonlyArray<{ name: string }>, path: string): void {
  files.forEach((file, i) => {
    if (Buffer.byteLength(file.name, "utf8") > FILE_NAME_MAX_BYTES) {
      throw invalid(`${path}/${i}/name must be at most ${FILE_NAME_MAX_BYTES} UTF-8 bytes`);
    }
  });
}

/** Checks that a delta names at most MAX_FILES_PER_REQUEST files in all. */
export function checkDeltaSize(add: readonly unknown[], remove: readonly unknown[]): void {
  if (add.length + remove.length > MAX_FILES_PER_REQUEST) {
    throw invalid(`body/add and body/remove together must name at most ${MAX_FILES_PER_REQUEST} files`);
  }
}

/** Checks the search query's length in UTF-8 bytes. */
export function checkQuery(query: string): void {
  if (Buffer.byteLength(query, "utf8") > SEARCH_QUERY_MAX_BYTES) {
    throw invalid(`querystring/q must be at most ${SEARCH_QUERY_MAX_BYTES} UTF-8 bytes`);
  }
}
