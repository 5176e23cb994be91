/**
 * Message boundaries of oidc-agent's IPC v1.
 *
 * There is no delimiter and no length prefix: a message is one complete JSON object, a 44-character
 * base64 X25519 public key, or an encrypted frame `L:NONCE:CIPHER`. Peers may write a message in
 * pieces, so the receiver feeds every chunk to a {@link MessageReader} until it reports a complete
 * message. It never buffers more than {@link MAX_MESSAGE_BYTES} and never nests deeper than
 * {@link MAX_JSON_DEPTH}. It does not parse JSON or decrypt: it only says where a message ends.
 * @see ../../../../shared/reference/oidc-agent.md §1.3, §1.4
 */

/** Hard cap for one message, either direction. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** Deeper JSON is refused before parsing. */
export const MAX_JSON_DEPTH = 32;
/** Length of a base64 X25519 public key (32 bytes, standard alphabet, padded). */
export const PUBLIC_KEY_CHARS = 44;
/** Length of a base64 24-byte nonce. */
export const NONCE_CHARS = 32;
/** secretbox MAC length. */
export const MAC_BYTES = 16;

export type Message =
  | { kind: 'incomplete' }
  | { kind: 'json'; text: string }
  | { kind: 'public-key'; key: string }
  | { kind: 'frame'; length: number; nonce: string; cipher: string }
  | { kind: 'invalid'; reason: string };

/** What the reader expects: the first message of a connection, or an encrypted frame after a key exchange. */
export type ReaderPhase = 'first' | 'encrypted';

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(b: number): boolean {
  // JSON whitespace, plus NUL: some C clients send a terminating NUL.
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09 || b === 0x00;
}

function isBase64Char(b: number): boolean {
  return (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2b || b === 0x2f || b === 0x3d;
}

/** Number of base64 characters (padded) for `n` bytes. */
export function base64Length(n: number): number {
  return 4 * Math.ceil(n / 3);
}

/** Accumulates the bytes of one message and tells when it is complete. One reader per message. */
export class MessageReader {
  readonly #phase: ReaderPhase;
  readonly #max: number;
  #chunks: Buffer[] = [];
  #size = 0;
  // JSON scanner state, kept across chunks so a message is scanned once: O(n).
  #mode: 'unknown' | 'json' | 'key' | 'frame' = 'unknown';
  #depth = 0;
  #inString = false;
  #escape = false;
  #jsonEnd = -1;
  #scanned = 0;

  constructor(phase: ReaderPhase = 'first', maxBytes = MAX_MESSAGE_BYTES) {
    this.#phase = phase;
    this.#max = maxBytes;
  }

  /** Bytes received so far. */
  get size(): number {
    return this.#size;
  }

  /** Adds a chunk and reports the state of the message. After a final result, do not push again. */
  push(chunk: Buffer): Message {
    this.#size += chunk.length;
    if (this.#size > this.#max) return { kind: 'invalid', reason: `message exceeds ${this.#max} bytes` };
    this.#chunks.push(chunk);
    return this.#check(chunk);
  }

  /** The state at end of input: what there is, or why it is not a message. */
  end(): Message {
    const r = this.#evaluate();
    if (r.kind !== 'incomplete') return r;
    if (this.#size === 0 || this.#mode === 'unknown') return { kind: 'invalid', reason: 'empty message' };
    return { kind: 'invalid', reason: 'incomplete message' };
  }

  #buffer(): Buffer {
    if (this.#chunks.length !== 1) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0]!;
  }

  #check(chunk: Buffer): Message {
    if (this.#mode === 'unknown') {
      const buf = this.#buffer();
      let i = 0;
      while (i < buf.length && isSpace(buf[i]!)) i++;
      if (i === buf.length) return { kind: 'incomplete' };
      const b = buf[i]!;
      if (b === OPEN_BRACE || b === OPEN_BRACKET) this.#mode = 'json';
      else if (this.#phase === 'encrypted') this.#mode = 'frame';
      else if (isBase64Char(b)) this.#mode = 'key';
      else if (b === QUOTE || b === 0x2d || (b >= 0x30 && b <= 0x39) || b === 0x74 || b === 0x66 || b === 0x6e) {
        // A JSON scalar (string, number, true/false/null) is never a valid request; treat the bytes as
        // JSON text once they end, so the caller can answer "not a JSON object".
        this.#mode = 'key';
      } else return { kind: 'invalid', reason: 'message is neither a JSON object nor a public key' };
      this.#scanned = 0;
      return this.#mode === 'json' ? this.#scanJson(buf) : this.#evaluate();
    }
    if (this.#mode === 'json') return this.#scanJson(chunk, true);
    return this.#evaluate();
  }

  #scanJson(bytes: Buffer, incremental = false): Message {
    const offset = incremental ? this.#size - bytes.length : 0;
    for (let i = incremental ? 0 : this.#scanned; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (this.#jsonEnd >= 0) {
        if (!isSpace(b)) return { kind: 'invalid', reason: 'trailing bytes after the JSON message' };
        continue;
      }
      if (this.#inString) {
        if (this.#escape) this.#escape = false;
        else if (b === BACKSLASH) this.#escape = true;
        else if (b === QUOTE) this.#inString = false;
        continue;
      }
      if (b === QUOTE) this.#inString = true;
      else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
        if (++this.#depth > MAX_JSON_DEPTH) return { kind: 'invalid', reason: `JSON nested deeper than ${MAX_JSON_DEPTH}` };
      } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
        if (--this.#depth === 0) this.#jsonEnd = offset + i + 1;
        else if (this.#depth < 0) return { kind: 'invalid', reason: 'unbalanced JSON' };
      }
    }
    if (this.#jsonEnd < 0) return { kind: 'incomplete' };
    return { kind: 'json', text: this.#buffer().toString('utf8').trim().replace(/\0+$/, '') };
  }

  #evaluate(): Message {
    if (this.#mode === 'json') return this.#jsonEnd < 0 ? { kind: 'incomplete' } : { kind: 'json', text: this.#buffer().toString('utf8').trim() };
    if (this.#mode === 'unknown') return { kind: 'incomplete' };
    const text = trimMessage(this.#buffer().toString('latin1'));
    if (this.#mode === 'key') {
      if (/^[A-Za-z0-9+/]{43}=$/.test(text)) return { kind: 'public-key', key: text };
      if (text.length >= PUBLIC_KEY_CHARS || !/^[A-Za-z0-9+/=]*$/.test(text)) {
        return { kind: 'invalid', reason: 'message is neither a JSON object nor a public key' };
      }
      return { kind: 'incomplete' };
    }
    // Encrypted frame: L:NONCE:CIPHER with L the plaintext byte length.
    const m = /^(\d{1,8})(?::([A-Za-z0-9+/=]{0,32})(?::([A-Za-z0-9+/=]*))?)?$/.exec(text);
    if (!m) return { kind: 'invalid', reason: 'malformed encrypted message' };
    if (m[3] === undefined) return { kind: 'incomplete' };
    const length = Number(m[1]);
    if (length > this.#max) return { kind: 'invalid', reason: `message exceeds ${this.#max} bytes` };
    const want = base64Length(length + MAC_BYTES);
    const cipher = m[3];
    if (m[2]!.length !== NONCE_CHARS) return { kind: 'invalid', reason: 'malformed nonce' };
    if (cipher.length < want) return { kind: 'incomplete' };
    if (cipher.length > want) return { kind: 'invalid', reason: 'encrypted message longer than its length field' };
    return { kind: 'frame', length, nonce: m[2]!, cipher };
  }
}

function trimMessage(s: string): string {
  return s.replace(/^[\s\0]+|[\s\0]+$/g, '');
}
