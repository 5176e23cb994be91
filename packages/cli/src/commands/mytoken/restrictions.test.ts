import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CAPABILITIES,
  LIMITS,
  RestrictionError,
  checkHost,
  clauseFromOptions,
  combineRestrictions,
  parseCapabilities,
  parseClause,
  parseTemplate,
  type ClauseContext,
} from './restrictions.js';

const NOW = 1_800_000_000;
const ctx: ClauseContext = { now: NOW, thisHost: () => ['node1.example.org', '192.0.2.7', '2001:db8::7'] };

test('a full clause: every key validated and converted, times to unix seconds', () => {
  const c = parseClause(
    {
      nbf: '+1h',
      exp: '+3d12h30m',
      scope: 'openid storage.read:/',
      audience: ['https://a.example', 'https://b.example'],
      hosts: ['192.0.2.1', '10.0.0.0/8', '2001:db8::/32', 'login.example.org', 'this'],
      geoip_allow: ['de', 'FR'],
      geoip_disallow: 'us,cn',
      usages_AT: 10,
      usages_other: '2',
      include: 'my-template',
    },
    'clause',
    ctx,
  );
  assert.deepEqual(c, {
    nbf: NOW + 3600,
    exp: NOW + 3 * 86_400 + 12 * 3600 + 30 * 60,
    scope: 'openid storage.read:/',
    audience: ['https://a.example', 'https://b.example'],
    hosts: ['192.0.2.1', '10.0.0.0/8', '2001:db8::/32', 'login.example.org', 'node1.example.org', '192.0.2.7', '2001:db8::7'],
    geoip_allow: ['de', 'FR'],
    geoip_disallow: ['us', 'cn'],
    usages_AT: 10,
    usages_other: 2,
    include: 'my-template',
  });
});

test('numbers stay numbers; scope given as a list is joined; audience as a string is split', () => {
  assert.deepEqual(parseClause({ exp: 1_900_000_000, scope: ['a', 'b c'], audience: 'x y' }, 'c', ctx), {
    exp: 1_900_000_000,
    scope: 'a b c',
    audience: ['x', 'y'],
  });
});

const refused: [unknown, RegExp][] = [
  [{ exp: '+3x' }, /"exp": "\+3x" is not a time: unknown unit "x"/],
  [{ nbf: '2026-13-40 10:00' }, /"nbf": "2026-13-40 10:00" is not a time: month 13/],
  [{ expires: 5 }, /unknown restriction "expires"/],
  [{ Exp: 5 }, /unknown restriction "Exp"/],
  [JSON.parse('{"__proto__": {"exp": 1}}'), /unknown restriction "__proto__"/],
  [{ constructor: 'x' }, /unknown restriction "constructor"/],
  [{ usages_AT: -1 }, /"usages_AT" must be a whole number ≥ 0, not "-1"/],
  [{ usages_AT: 1.5 }, /whole number/],
  [{ usages_other: '1e3' }, /whole number/],
  [{ usages_other: 2 ** 60 }, /whole number/],
  [{ hosts: ["not a host!"] }, /"not a host!" is not an IP address/],
  [{ hosts: ['300.1.1.1/8'] }, /"300.1.1.1\/8" is not a subnet/],
  [{ hosts: ['10.0.0.0/33'] }, /"10.0.0.0\/33" is not a subnet/],
  [{ hosts: ['-bad.example'] }, /"-bad.example" is not an IP address/],
  [{ hosts: 5 }, /must be a list of strings, not "5"/],
  [{ hosts: [5] }, /"hosts"\[0\] must be a string/],
  [{ geoip_allow: ['deu'] }, /"deu" is not a two-letter country code/],
  [{ audience: { a: 1 } }, /must be a list of strings/],
  [{ scope: 5 }, /must be a list of strings/],
  [{ nbf: '+2d', exp: '+1d' }, /"exp" \(\d+\) is before c "nbf"/],
  [[], /must be a JSON object/],
  ['exp', /must be a JSON object/],
  [null, /must be a JSON object/],
];
for (const [raw, want] of refused) {
  test(`clause refused: ${JSON.stringify(raw)?.slice(0, 60)}`, () => {
    assert.throws(
      () => parseClause(raw, 'c', ctx),
      (err: unknown) => err instanceof RestrictionError && want.test(err.message),
    );
  });
}

test('__proto__ in a template pollutes nothing and is refused', () => {
  assert.throws(() => parseTemplate('[{"exp":"+1d"},{"__proto__":{"polluted":true}}]', 't.json', ctx), /t\.json: clause 2: unknown restriction "__proto__"/);
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});

test('templates: one clause object or a list; times inside are strings in the time syntax', () => {
  assert.deepEqual(parseTemplate('{"exp":"+1d","scope":"openid"}', 't', ctx), [{ exp: NOW + 86_400, scope: 'openid' }]);
  assert.deepEqual(parseTemplate('[{"exp":"+1h"},{"nbf":"+1h","exp":"+2h","usages_AT":1}]', 't', ctx), [
    { exp: NOW + 3600 },
    { nbf: NOW + 3600, exp: NOW + 7200, usages_AT: 1 },
  ]);
});

test('templates: bad JSON, empty list, too many clauses, too large, too many entries', () => {
  assert.throws(() => parseTemplate('{exp: 1}', 'f.json', ctx), /f\.json: not valid JSON/);
  assert.throws(() => parseTemplate('[]', 'f.json', ctx), /empty/);
  assert.throws(() => parseTemplate(JSON.stringify(Array(LIMITS.clauses + 1).fill({})), 'f', ctx), /too many restriction clauses/);
  assert.throws(() => parseTemplate(`{"scope":"${'a '.repeat(40_000)}"}`, 'f', ctx), /larger than 65536 bytes/);
  assert.throws(() => parseTemplate(JSON.stringify({ audience: Array(LIMITS.listEntries + 1).fill('a') }), 'f', ctx), /too many entries/);
  assert.throws(() => parseTemplate('[[[[[[[[[[1]]]]]]]]]]', 'f', ctx), /clause 1 must be a JSON object/);
  assert.throws(() => parseTemplate('"exp"', 'f', ctx), /must be a JSON object/);
});

test('hosts: IPv4, IPv6, subnets, host names', () => {
  for (const ok of ['127.0.0.1', '::1', '192.168.0.0/16', 'fe80::/10', 'a.b-c.example', 'localhost', 'example.org.']) assert.equal(checkHost('h', ok), ok);
  for (const bad of ['', 'a..b', 'a_b.example', '1.2.3.4/', '/8', '1.2.3.4/x', 'http://x', 'a b']) assert.throws(() => checkHost('h', bad), RestrictionError, bad);
});

test('capabilities: known names and @templates pass; unknown ones are named', () => {
  assert.deepEqual(parseCapabilities(['AT', 'tokeninfo:introspect,create_mytoken', 'AT', '@all']), ['AT', 'tokeninfo:introspect', 'create_mytoken', '@all']);
  assert.deepEqual(parseCapabilities([...CAPABILITIES]), [...CAPABILITIES]);
  assert.throws(() => parseCapabilities(['AT', 'at']), /unknown capability "at"/);
  assert.throws(() => parseCapabilities(['tokeninfo:everything']), /unknown capability "tokeninfo:everything"/);
  assert.throws(() => parseCapabilities(['__proto__']), /unknown capability "__proto__"/);
  assert.throws(() => parseCapabilities(['@']), /unknown capability "@"/);
});

test('options make one clause; errors name the option', () => {
  assert.deepEqual(clauseFromOptions({}, ctx), {});
  assert.deepEqual(
    clauseFromOptions(
      { nbf: '1800000100', exp: '+1d', scope: ['openid', 'a b'], aud: ['x'], host: ['this', '10.0.0.0/8'], geoIpAllow: ['de,fr'], geoIpDisallow: ['us'], usagesAt: '3', usagesOther: '0' },
      ctx,
    ),
    {
      nbf: 1_800_000_100,
      exp: NOW + 86_400,
      scope: 'openid a b',
      audience: ['x'],
      hosts: ['node1.example.org', '192.0.2.7', '2001:db8::7', '10.0.0.0/8'],
      geoip_allow: ['de', 'fr'],
      geoip_disallow: ['us'],
      usages_AT: 3,
      usages_other: 0,
    },
  );
  assert.throws(() => clauseFromOptions({ exp: '+3x' }, ctx), /^RestrictionError: --exp: "\+3x" is not a time/);
  assert.throws(() => clauseFromOptions({ usagesAt: 'ten' }, ctx), /--usages-at must be a whole number ≥ 0, not "ten"/);
  assert.throws(() => clauseFromOptions({ host: ['bad host!'] }, ctx), /--host: "host!" is not/);
  assert.throws(() => clauseFromOptions({ geoIpDisallow: ['usa'] }, ctx), /--geo-ip-disallow: "usa" is not a two-letter/);
  assert.throws(() => clauseFromOptions({ nbf: '+2d', exp: '+1d' }, ctx), /--exp \(\d+\) is before --nbf/);
});

test('combining: options lie over every clause of a template; nothing at all → undefined', () => {
  assert.equal(combineRestrictions(undefined, {}), undefined);
  assert.deepEqual(combineRestrictions(undefined, { exp: 5 }), [{ exp: 5 }]);
  assert.deepEqual(combineRestrictions([{ exp: 5, scope: 'a' }, { scope: 'b' }], { exp: 9 }), [
    { exp: 9, scope: 'a' },
    { exp: 9, scope: 'b' },
  ]);
  assert.deepEqual(combineRestrictions([{ exp: 5 }], {}), [{ exp: 5 }]);
  assert.throws(() => combineRestrictions([{ nbf: 100 }], { exp: 50 }), /"exp" \(50\) is before "nbf" \(100\)/);
});
