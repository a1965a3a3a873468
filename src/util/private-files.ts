// The data dir holds the database and the keys that open every secret: only its owner may read
// it (CONTRACT §14: the directory 0700, the files in it 0600). Modes are set on creation and
// tightened at every start, in case a copy, a restore or an older version left them looser.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;

/**
 * Creates `dir` (mode 0700) with its parents, or tightens it to 0700 when it exists. A directory
 * that is not this user's, or a shared one with the sticky bit (/tmp), is left as it is: it is
 * not sipext's to lock.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  const st = statSync(dir);
  const mine = process.getuid === undefined || st.uid === process.getuid();
  if (mine && (st.mode & 0o1000) === 0 && (st.mode & 0o077) !== 0) chmodSync(dir, DIR_MODE);
}

/**
 * Tightens an existing file that group or others may use to 0600; a missing file is no error
 * (nothing to protect).
 */
export function tightenFile(path: string): void {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if ((mode & 0o077) !== 0) chmodSync(path, FILE_MODE);
}

/**
 * Creates `path` empty with mode 0600 when it does not exist, else tightens it. An existing file
 * is never opened: closing any descriptor of a file drops every POSIX lock this process holds on
 * it, SQLite's included.
 */
export function ensurePrivateFile(path: string): void {
  try {
    closeSync(openSync(path, "wx", FILE_MODE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  tightenFile(path);
}
