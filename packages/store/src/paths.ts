import { constants, statSync } from 'node:fs';
import { lstat, mkdir, open } from 'node:fs/promises';
import { homedir as osHomedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import envPaths from 'env-paths';
import { StoreError, StoreErrorCode, errnoCode } from './errors.js';

/** Where to look things up; everything defaults to the current process. */
export type PathOptions = {
  env?: NodeJS.ProcessEnv;
  /** Home directory; defaults to `env.HOME`, then `os.homedir()`. */
  homedir?: string;
  platform?: NodeJS.Platform;
};

const APP = 'token-agent';

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function home(opts: PathOptions): string {
  return opts.homedir ?? (opts.env?.HOME || osHomedir());
}

// env-paths reads process.env and os.homedir() once at import; for XDG platforms we apply the
// same rules to the injected env so callers and tests can steer them. Per the XDG basedir spec,
// a relative XDG_* value is ignored.
function appPaths(opts: PathOptions): { config: string; log: string } {
  const platform = opts.platform ?? process.platform;
  if (platform === 'darwin' || platform === 'win32') {
    const p = envPaths(APP, { suffix: '' });
    return { config: p.config, log: p.log };
  }
  const env = opts.env ?? process.env;
  const xdg = (name: string, fallback: string): string => {
    const v = env[name];
    return v && isAbsolute(v) ? v : join(home(opts), fallback);
  };
  return {
    config: join(xdg('XDG_CONFIG_HOME', '.config'), APP),
    log: join(xdg('XDG_STATE_HOME', join('.local', 'state')), APP),
  };
}

/**
 * The account directory: `$OIDC_CONFIG_DIR` if set; else oidc-agent's `~/.config/oidc-agent`
 * or legacy `~/.oidc-agent` if one exists (existing users keep their accounts); else
 * token-agent's XDG config dir. Does not create it: see {@link ensurePrivateDir}.
 */
export function configDir(opts: PathOptions = {}): string {
  const env = opts.env ?? process.env;
  const fromEnv = env.OIDC_CONFIG_DIR;
  if (fromEnv) return resolve(fromEnv);
  for (const candidate of [join(home(opts), '.config', 'oidc-agent'), join(home(opts), '.oidc-agent')]) {
    if (isDirectory(candidate)) return candidate;
  }
  return appPaths(opts).config;
}

/** Directory for the agent's log file (`$XDG_STATE_HOME/token-agent` on Linux). Not created. */
export function stateDir(opts: PathOptions = {}): string {
  return appPaths(opts).log;
}

/** `$XDG_RUNTIME_DIR` when it is set, absolute and an existing directory; else undefined. */
export function runtimeDir(opts: PathOptions = {}): string | undefined {
  const v = (opts.env ?? process.env).XDG_RUNTIME_DIR;
  return v && isAbsolute(v) && isDirectory(v) ? v : undefined;
}

/**
 * `mkdir -p` with mode 0700, then checks the directory itself (not its parents): a real
 * directory (not a symlink) owned by us, its group/other bits removed if it had any.
 * `STORE_UNSAFE_PATH` if it is a symlink, not a directory, or someone else's.
 */
export async function ensurePrivateDir(path: string): Promise<void> {
  try {
    await mkdir(path, { recursive: true, mode: 0o700 });
  } catch (err) {
    // Something is in the way (a file, a dangling symlink: EEXIST, ENOTDIR or even ENOENT):
    // if so, the checks below say precisely what; if not, the mkdir error stands.
    const inTheWay = await lstat(path).then(
      () => true,
      () => false,
    );
    if (!inTheWay) throw new StoreError(StoreErrorCode.IO, `cannot create directory ${path}`, { cause: err });
  }
  if (process.platform === 'win32') return;
  let handle;
  try {
    // O_NOFOLLOW + O_DIRECTORY: the checks and the chmod apply to what is really there.
    handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ELOOP') throw new StoreError(StoreErrorCode.UNSAFE_PATH, `${path} is a symbolic link, not a directory`, { cause: err });
    if (code === 'ENOTDIR') throw new StoreError(StoreErrorCode.UNSAFE_PATH, `${path} is not a directory`, { cause: err });
    throw new StoreError(StoreErrorCode.IO, `cannot open directory ${path}`, { cause: err });
  }
  try {
    const st = await handle.stat();
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw new StoreError(StoreErrorCode.UNSAFE_PATH, `${path} is owned by uid ${st.uid}, not by us (uid ${uid})`);
    }
    if ((st.mode & 0o077) !== 0) await handle.chmod(0o700);
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(StoreErrorCode.IO, `cannot secure directory ${path}`, { cause: err });
  } finally {
    await handle.close();
  }
}
