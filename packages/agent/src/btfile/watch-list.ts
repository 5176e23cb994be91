/**
 * The persisted watch list (`watches.json` in the agent's state directory, 0600): which files to
 * keep for which account, scopes and audiences — never a token. Read at start so that watches
 * come back when their account is added again.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '@token-agent/store';

/** What a watch is, independent of the tokens it holds. */
export interface WatchSpec {
  account: string;
  /** Absolute path of the discovery file. */
  path: string;
  scopes: string[];
  audiences: string[];
  /** Seconds of validity the file's token must keep; refreshed before it has less. */
  minValid: number;
  /** Unix seconds. */
  createdAt: number;
}

const VERSION = 1;

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === 'string');
}

/** Validates one entry of the file; undefined when it is not a watch. */
function parseEntry(e: unknown): WatchSpec | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const o = e as Record<string, unknown>;
  const { account, path, scope, audience, min_valid_period: minValid, created_at: createdAt } = o;
  if (typeof account !== 'string' || account === '' || typeof path !== 'string' || !path.startsWith('/')) return undefined;
  if (!isStringArray(scope) || !isStringArray(audience)) return undefined;
  if (typeof minValid !== 'number' || !Number.isSafeInteger(minValid) || minValid < 0) return undefined;
  return { account, path, scopes: scope, audiences: audience, minValid, createdAt: typeof createdAt === 'number' ? createdAt : 0 };
}

/**
 * Reads the list. A missing file is an empty list; a malformed one is reported through
 * `problems` and read as far as it is valid.
 */
export async function readWatchList(file: string): Promise<{ watches: WatchSpec[]; problems: string[] }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { watches: [], problems: [] };
    return { watches: [], problems: [`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`] };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { watches: [], problems: [`${file} is not JSON`] };
  }
  const list = (doc as { watches?: unknown } | null)?.watches;
  if (!Array.isArray(list)) return { watches: [], problems: [`${file} has no "watches" list`] };
  const watches: WatchSpec[] = [];
  const problems: string[] = [];
  for (const [i, e] of list.entries()) {
    const w = parseEntry(e);
    if (w === undefined) problems.push(`${file}: entry ${i} is not a valid watch`);
    else watches.push(w);
  }
  return { watches, problems };
}

/** Replaces the list atomically (directory 0700, file 0600). */
export async function writeWatchList(file: string, watches: readonly WatchSpec[]): Promise<void> {
  await ensurePrivateDir(dirname(file));
  const doc = {
    version: VERSION,
    watches: watches.map((w) => ({
      account: w.account,
      path: w.path,
      scope: w.scopes,
      audience: w.audiences,
      min_valid_period: w.minValid,
      created_at: w.createdAt,
    })),
  };
  await writeFileAtomic(file, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
}
