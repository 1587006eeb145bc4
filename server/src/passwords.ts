// Password hashing with scrypt (node:crypto). A stored hash names its own parameters
// ("scrypt$<log2 N>$<r>$<p>$<salt>$<key>"), so the cost can be raised later without breaking old accounts.

import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import {
  MAX_SCRYPT_COST_LOG2,
  SCRYPT_BLOCK_SIZE,
  SCRYPT_KEY_BYTES,
  SCRYPT_PARALLELISM,
  SCRYPT_SALT_BYTES,
} from "./constants.js";

function derive(password: string, salt: Buffer, costLog2: number, blockSize: number, parallelism: number): Promise<Buffer> {
  const N = 2 ** costLog2;
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      SCRYPT_KEY_BYTES,
      { N, r: blockSize, p: parallelism, maxmem: 256 * N * blockSize * parallelism },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

/** Hashes a password with scrypt at N = 2^costLog2 and a fresh random salt. */
export async function hashPassword(password: string, costLog2: number): Promise<string> {
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const key = await derive(password, salt, costLog2, SCRYPT_BLOCK_SIZE, SCRYPT_PARALLELISM);
  return ["scrypt", costLog2, SCRYPT_BLOCK_SIZE, SCRYPT_PARALLELISM, salt.toString("base64"), key.toString("base64")].join("$");
}

/** Whether `password` matches a hash made by hashPassword (constant-time comparison). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, cost, blockSize, parallelism, salt, key] = stored.split("$");
  const costLog2 = Number(cost);
  if (
    scheme !== "scrypt" ||
    !Number.isInteger(costLog2) ||
    costLog2 < 1 ||
    costLog2 > MAX_SCRYPT_COST_LOG2 ||
    salt === undefined ||
    key === undefined
  ) {
    throw new Error("stored password hash is not in the scrypt format");
  }
  const expected = Buffer.from(key, "base64");
  const actual = await derive(password, Buffer.from(salt, "base64"), costLog2, Number(blockSize), Number(parallelism));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
