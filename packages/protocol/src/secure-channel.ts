/**
 * The encrypted exchange of oidc-agent IPC v1: X25519 key exchange, then XSalsa20-Poly1305
 * (`crypto_box_beforenm` + `crypto_secretbox_easy`) frames `L:NONCE:CIPHER`.
 *
 * libsodium is loaded on first use, so that importing this package stays cheap for clients that
 * speak plaintext. It does not authenticate the peer: like oidc-agent it only keeps a same-user
 * sniffer from reading the exchange; the socket's file mode is what keeps other users out.
 * @see ../../../../shared/reference/oidc-agent.md §1.4
 */
import type { Message } from './frame.js';
import { MAC_BYTES, NONCE_CHARS } from './frame.js';

type Sodium = typeof import('libsodium-wrappers-sumo');

let sodiumPromise: Promise<Sodium> | undefined;

/** Loads and initialises libsodium once. */
export function loadSodium(): Promise<Sodium> {
  sodiumPromise ??= import('libsodium-wrappers-sumo').then(async (mod) => {
    const sodium = ((mod as unknown as { default?: Sodium }).default ?? mod) as Sodium;
    await sodium.ready;
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
    const pair = sodium.crypto_box_keypair();
    const key = sodium.crypto_box_beforenm(peer, pair.privateKey);
    pair.privateKey.fill(0);
    return { channel: new SecureChannel(sodium, key), publicKey: Buffer.from(pair.publicKey).toString('base64') };
  }

  /** Client side, step 1: a fresh key pair; send `publicKey`, then call `complete` with the agent's key. */
  static async offer(): Promise<{ publicKey: string; complete(agentPublicKey: string): SecureChannel }> {
    const sodium = await loadSodium();
    const pair = sodium.crypto_box_keypair();
    return {
      publicKey: Buffer.from(pair.publicKey).toString('base64'),
      complete(agentPublicKey: string): SecureChannel {
        const key = sodium.crypto_box_beforenm(decodeKey(agentPublicKey), pair.privateKey);
        pair.privateKey.fill(0);
        return new SecureChannel(sodium, key);
      },
    };
  }

  /** Encrypts one message into the `L:NONCE:CIPHER` text form. */
  seal(plaintext: string): string {
    const bytes = Buffer.from(plaintext, 'utf8');
    const nonce = this.#sodium.randombytes_buf(NONCE_BYTES);
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

function decodeKey(b64: string): Uint8Array {
  const key = Buffer.from(b64, 'base64');
  if (key.length !== 32 || !/^[A-Za-z0-9+/]{43}=$/.test(b64)) throw new Error('invalid public key');
  return key;
}
