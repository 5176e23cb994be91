/** Names a file's owner for error messages: `intruder (uid 1001)`. */
import { readFileSync } from 'node:fs';

/** The user name of `uid` from /etc/passwd, or undefined (no such entry, no file, NSS-only users). */
export function userName(uid: number, passwd = '/etc/passwd'): string | undefined {
  let text: string;
  try {
    text = readFileSync(passwd, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[2] === String(uid) && f[0]) return f[0];
  }
  return undefined;
}

/** `name (uid N)`, or `uid N` when the name is unknown. */
export function describeOwner(uid: number): string {
  const name = userName(uid);
  return name === undefined ? `uid ${uid}` : `${name} (uid ${uid})`;
}
