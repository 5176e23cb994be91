// libsodium is ~1 MB of WASM and takes tens of milliseconds to instantiate: load it only when
// a file is actually encrypted or decrypted, so `token-get` (which imports nothing that needs
// it) starts as fast as bare node.

/** The libsodium.js sumo API (the plain build lacks `crypto_pwhash`). */
export type Sodium = (typeof import('libsodium-wrappers-sumo'))['default'];

let loading: Promise<Sodium> | undefined;

/** Loads and initialises libsodium once; later calls share the same promise. */
export function loadSodium(): Promise<Sodium> {
  loading ??= (async () => {
    const mod = await import('libsodium-wrappers-sumo');
    const sodium = mod.default;
    await sodium.ready;
    return sodium;
  })().catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}
