import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageReader, MAX_JSON_DEPTH } from './frame.js';
import { SecureChannel } from './secure-channel.js';

function feed(reader: MessageReader, ...parts: (string | Buffer)[]) {
  let last;
  for (const p of parts) last = reader.push(Buffer.isBuffer(p) ? p : Buffer.from(p));
  return last!;
}

test('a JSON object written in pieces is complete only at its closing brace', () => {
  const r = new MessageReader();
  assert.equal(feed(r, '{"request":"acc').kind, 'incomplete');
  assert.equal(feed(r, 'ess_token","x":"}{\\"').kind, 'incomplete', 'braces inside strings and escaped quotes do not count');
  const m = feed(r, '"}');
  assert.deepEqual(m, { kind: 'json', text: '{"request":"access_token","x":"}{\\""}' });
});

test('a multi-byte character split across chunks survives', () => {
  const bytes = Buffer.from('{"application_hint":"ü€"}');
  const r = new MessageReader();
  for (let i = 0; i < bytes.length - 1; i++) assert.equal(r.push(bytes.subarray(i, i + 1)).kind, 'incomplete');
  const m = r.push(bytes.subarray(bytes.length - 1));
  assert.equal(m.kind, 'json');
  assert.equal(JSON.parse((m as { text: string }).text).application_hint, 'ü€');
});

test('a JSON array is complete JSON (the caller refuses it as not an object)', () => {
  assert.deepEqual(feed(new MessageReader(), '[1,2]'), { kind: 'json', text: '[1,2]' });
});

test('garbage bytes are invalid at once', () => {
  assert.equal(feed(new MessageReader(), Buffer.from([0xff, 0xfe, 0x00, 0x01])).kind, 'invalid');
  assert.equal(feed(new MessageReader(), '<html>').kind, 'invalid');
});

test('trailing bytes after a complete object are invalid', () => {
  assert.equal(feed(new MessageReader(), '{"a":1}{"b":2}').kind, 'invalid');
});

test('messages over the cap are invalid without buffering them', () => {
  const r = new MessageReader('first', 1000);
  assert.equal(feed(r, '{"a":"' + 'x'.repeat(900)).kind, 'incomplete');
  assert.equal(feed(r, 'x'.repeat(200)).kind, 'invalid');
});

test('nesting deeper than the limit is refused before parsing', () => {
  const deep = '['.repeat(MAX_JSON_DEPTH + 1);
  assert.equal(feed(new MessageReader(), deep).kind, 'invalid');
  const ok = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
  assert.equal(feed(new MessageReader(), ok).kind, 'json');
});

test('a public key is recognised after 44 characters, not before', async () => {
  const { publicKey } = await SecureChannel.offer();
  const r = new MessageReader();
  assert.equal(feed(r, publicKey.slice(0, 20)).kind, 'incomplete');
  assert.deepEqual(feed(r, publicKey.slice(20)), { kind: 'public-key', key: publicKey });
  assert.equal(feed(new MessageReader(), publicKey + 'AAAA').kind, 'invalid');
});

test('an incomplete message at end of input says so', () => {
  const r = new MessageReader();
  feed(r, '{"request":');
  assert.deepEqual(r.end(), { kind: 'invalid', reason: 'incomplete message' });
  assert.equal(new MessageReader().end().kind, 'invalid');
});

test('encrypted frames: both sides agree, frames may arrive in pieces, tampering fails', async () => {
  const offer = await SecureChannel.offer();
  const { channel: agent, publicKey } = await SecureChannel.accept(offer.publicKey);
  const client = offer.complete(publicKey);
  const plain = '{"request":"access_token","account":"kit","application_hint":"ünïcode"}';
  const frame = client.seal(plain);
  assert.match(frame, /^\d+:[A-Za-z0-9+/=]{32}:[A-Za-z0-9+/=]+$/);
  assert.equal(Number(frame.split(':')[0]), Buffer.byteLength(plain), 'L is the UTF-8 byte length');

  const r = new MessageReader('encrypted');
  assert.equal(feed(r, frame.slice(0, 10)).kind, 'incomplete');
  assert.equal(feed(r, frame.slice(10, -3)).kind, 'incomplete');
  const m = feed(r, frame.slice(-3));
  assert.equal(m.kind, 'frame');
  assert.equal(agent.open(m as Extract<typeof m, { kind: 'frame' }>), plain);

  // Flip one character of the ciphertext: the MAC check fails.
  const parts = frame.split(':');
  const c = parts[2]!;
  const flipped = `${parts[0]}:${parts[1]}:${c[0] === 'A' ? 'B' : 'A'}${c.slice(1)}`;
  const m2 = feed(new MessageReader('encrypted'), flipped);
  assert.equal(m2.kind, 'frame');
  assert.throws(() => agent.open(m2 as Extract<typeof m2, { kind: 'frame' }>), /decryption failed/);
});

test('encrypted frames with a wrong length field are refused', async () => {
  const offer = await SecureChannel.offer();
  const { publicKey } = await SecureChannel.accept(offer.publicKey);
  const frame = offer.complete(publicKey).seal('{"request":"check"}');
  const [, nonce, cipher] = frame.split(':');
  // Claims fewer bytes than the cipher holds.
  assert.equal(feed(new MessageReader('encrypted'), `3:${nonce}:${cipher}`).kind, 'invalid');
  // Claims a huge length: refused by the cap, not waited for.
  assert.equal(feed(new MessageReader('encrypted'), `99999999:${nonce}:${cipher}`).kind, 'invalid');
  assert.equal(feed(new MessageReader('encrypted'), 'abc:def').kind, 'invalid');
});
