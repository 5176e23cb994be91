/**
 * Whether a browser can be opened here, and opening it. `open` is imported only when a URL is
 * actually opened, so no other command (and not token-gen's other paths) ever loads it.
 */

/** A graphical session (or a platform that always has one): the code flow is the default there. */
export function canOpenBrowser(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): boolean {
  if (platform === 'darwin' || platform === 'win32') return true;
  return Boolean(env['DISPLAY'] || env['WAYLAND_DISPLAY'] || env['BROWSER']);
}

/** Opens `url` in the user's browser; resolves false (never throws) when that did not work. */
export async function openBrowser(url: string): Promise<boolean> {
  try {
    const { default: open } = await import('open');
    const child = await open(url);
    return await new Promise<boolean>((resolve) => {
      // `open` unrefs the child: this (ref'd) timer keeps token-gen alive while we listen for a
      // spawn error or a quick non-zero exit (xdg-open without any browser).
      const timer = setTimeout(() => resolve(true), 700);
      const settle = (ok: boolean) => {
        clearTimeout(timer);
        resolve(ok);
      };
      child.once('error', () => settle(false));
      child.once('exit', (code) => settle(code === 0 || code === null));
    });
  } catch {
    return false;
  }
}
