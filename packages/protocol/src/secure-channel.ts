/**
 * The encrypted exchange of oidc-agent IPC v1: X25519 key exchange, then XSalsa20-Poly1305
 * (`crypto_box_beforenm` + `crypto_secretbox_easy`) frames `L:NONCE:CIPHER`.
 *
 * X25519 and the random bytes come from Node's crypto (native; libsodium.js's WASM key pair and
 * its 4-bytes-at-a-time random source made the exchange several times slower); HSalsa20 and
 * secretbox, which Node lacks, from libsodium. The ephemeral private keys live in KeyObjects
 * (freed with them, not wiped by hand). libsodium is loaded on first use, so that importing this
 * package stays cheap for clients that speak plaintext. It does not authenticate the peer: like oidc-agent it only keeps a same-user
 * sniffer from reading the exchange; the socket's file mode is what keeps other users out.
 * @see ../../../../shared/reference/oidc-agent.md §1.4
 */
import type { KeyObject } from 'node:crypto';
import type { Message } from './frame.js';
import { MAC_BYTES, NONCE_CHARS } from './frame.js';

type Sodium = typeof import('libsodium-wrappers-sumo');

let sodiumPromise: Promise<Sodium> | undefined;
// node:crypto too is loaded on first use: importing this package must not cost a plaintext client
// (token-get) the crypto module's start-up.
let nodeCrypto: typeof import('node:crypto');

/** Loads and initialises libsodium once. */
export function loadSodium(): Promise<Sodium> {
  sodiumPromise ??= import('libsodium-wrappers-sumo').then(async (mod) => {
    const sodium = ((mod as unknown as { default?: Sodium }).default ?? mod) as Sodium;
    await sodium.ready;
    nodeCrypto = await import('node:crypto');
    return sodium;
  });
  return sodiumPromise;
}

const NONCE_BYTES = 24;

/** One side of an encrypted connection after the key exchange. */
export class SecureChannel {
  readonly #sodium: Sodium;
  readonly #key: Uint8Array;

  private constructor(sodium: Sodium, key: Uint8Array) {
    this.#sodium = sodium;
    this.#key = key;
  }

  /**
   * Agent side: given the client's base64 public key, makes a fresh key pair and the shared key.
   * Returns the channel and the agent's public key to send back (44 base64 characters).
   */
  static async accept(clientPublicKey: string): Promise<{ channel: SecureChannel; publicKey: string }> {
    const sodium = await loadSodium();
    const peer = decodeKey(clientPublicKey);
    const pair = nodeCrypto.generateKeyPairSync('x25519');
    return { channel: new SecureChannel(sodium, beforenm(sodium, peer, pair.privateKey)), publicKey: rawPublicKey(pair.publicKey) };
  }

  /** Client side, step 1: a fresh key pair; send `publicKey`, then call `complete` with the agent's key. */
  static async offer(): Promise<{ publicKey: string; complete(agentPublicKey: string): SecureChannel }> {
    const sodium = await loadSodium();
    const pair = nodeCrypto.generateKeyPairSync('x25519');
    return {
      publicKey: rawPublicKey(pair.publicKey),
      complete(agentPublicKey: string): SecureChannel {
        return new SecureChannel(sodium, beforenm(sodium, decodeKey(agentPublicKey), pair.privateKey));
      },
    };
  }

  /** Encrypts one message into the `L:NONCE:CIPHER` text form. */
  seal(plaintext: string): string {
    const bytes = Buffer.from(plaintext, 'utf8');
    // Node's CSPRNG: libsodium.js would fetch the 24 bytes 4 at a time through WebCrypto (~10× slower).
    const nonce = nodeCrypto.randomBytes(NONCE_BYTES);
    const cipher = this.#sodium.crypto_secretbox_easy(bytes, nonce, this.#key);
    return `${bytes.length}:${Buffer.from(nonce).toString('base64')}:${Buffer.from(cipher).toString('base64')}`;
  }

  /** Decrypts a frame from {@link MessageReader}. Throws `Error('decryption failed')` on a bad MAC or bad fields. */
  open(frame: Extract<Message, { kind: 'frame' }>): string {
    const nonce = Buffer.from(frame.nonce, 'base64');
    const cipher = Buffer.from(frame.cipher, 'base64');
    if (frame.nonce.length !== NONCE_CHARS || nonce.length !== NONCE_BYTES || cipher.length !== frame.length + MAC_BYTES) {
      throw new Error('decryption failed');
    }
    let plain: Uint8Array;
    try {
      plain = this.#sodium.crypto_secretbox_open_easy(cipher, nonce, this.#key);
    } catch {
      throw new Error('decryption failed');
    }
    return Buffer.from(plain).toString('utf8');
  }

  /** Wipes the shared key. */
  close(): void {
    this.#key.fill(0);
  }
}

/**
 * `crypto_box_beforenm`: HSalsa20 of the X25519 shared secret. The X25519 step runs in Node's
 * OpenSSL (native, and it refuses an all-zero result from a low-order peer key as libsodium does);
 * only the HSalsa20 step needs libsodium. Same bytes as `sodium.crypto_box_beforenm(peer, secret)`.
 */
function beforenm(sodium: Sodium, peer: Uint8Array, privateKey: KeyObject): Uint8Array {
  const publicKey = nodeCrypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peer).toString('base64url') }, format: 'jwk' });
  let shared: Buffer;
  try {
    shared = nodeCrypto.diffieHellman({ privateKey, publicKey });
  } catch {
    throw new Error('invalid public key');
  }
  const key = sodium.crypto_core_hsalsa20(new Uint8Array(16), shared, null);
  shared.fill(0);
  return key;
}

/** The 32 raw bytes of an X25519 public key, in standard base64 (44 characters). */
function rawPublicKey(key: KeyObject): string {
  return Buffer.from(key.export({ format: 'jwk' }).x!, 'base64url').toString('base64');
}

function decodeKey(b64: string): Uint8Array {
  const key = Buffer.from(b64, 'base64');
  if (key.length !== 32 || !/^[A-Za-z0-9+/]{43}=$/.test(b64)) throw new Error('invalid public key');
  return key;
}
