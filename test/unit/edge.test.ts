import assert from 'node:assert/strict';
import { payloadJson, intParam, lastEventId } from '../../app/http/validate.ts';
import { frame, comment } from '../../app/http/sse.ts';
import { loadConfig } from '../../app/config.ts';
import { ApiError } from '../../app/errors.ts';

describe('edge parsers and framing', () => {
  it('payloadJson refuses what jsonb cannot hold, depth over 32, and size over the limit', () => {
    assert.equal(payloadJson({ a: [1, { b: 'ok' }] }, 100), '{"a":[1,{"b":"ok"}]}');
    let ok: Record<string, unknown> = {};
    for (let i = 0; i < 31; i++) ok = { d: ok };
    payloadJson(ok, 10_000);
    const tooDeep = { d: ok };
    assert.throws(() => payloadJson(tooDeep, 10_000), (e: ApiError) => e.code === 'invalid_request');
    assert.throws(() => payloadJson({ ['\u0000']: 1 }, 100), /u0000/);
    assert.throws(() => payloadJson({ a: '\ud83d' }, 100), /surrogate/);
    assert.throws(() => payloadJson({ a: 'x'.repeat(200) }, 100), (e: ApiError) => e.code === 'payload_too_large');
    const parsed = JSON.parse('{"__proto__":{"polluted":true}}');
    assert.equal(payloadJson(parsed, 100), '{"__proto__":{"polluted":true}}', 'an own "__proto__" key is data, kept as such');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('intParam accepts only plain integers and clamps when asked', () => {
    assert.equal(intParam({ n: '12' }, 'n', { min: 0, max: 100 }), 12);
    assert.equal(intParam({}, 'n', { min: 0, max: 100 }), undefined);
    assert.equal(intParam({ n: '1000' }, 'n', { min: 0, max: 60, clamp: true }), 60);
    for (const bad of ['1.0', '-1', '0x10', ' 1', '1e2', '', 'NaN']) assert.throws(() => intParam({ n: bad }, 'n', { min: 0, max: 100 }), /n:/);
    assert.throws(() => intParam({ n: ['1', '2'] }, 'n', { min: 0, max: 100 }), /once/);
    assert.equal(lastEventId('42'), 42);
    assert.throws(() => lastEventId('4\n2'));
  });

  it('SSE frames cannot be split by CR/LF/NUL in fields; data lines are split safely', () => {
    assert.equal(frame('message', '{"a":1}', 7), 'id: 7\nevent: message\ndata: {"a":1}\n\n');
    assert.equal(frame('x', 'a\nb\r\nc'), 'event: x\ndata: a\ndata: b\ndata: c\n\n');
    assert.throws(() => frame('message\nevent: evil', 'x'));
    assert.throws(() => frame('message', 'x', '1\nid: 2'));
    assert.equal(comment('a\nb'), ': a b\n\n');
  });

  it('config rejects bad values at start', () => {
    assert.throws(() => loadConfig({ PORT: 'eighty' }), /PORT/);
    assert.throws(() => loadConfig({ POLL_TIMEOUT_DEFAULT_S: '90', POLL_TIMEOUT_MAX_S: '60' }), /POLL_TIMEOUT/);
    assert.throws(() => loadConfig({ JOBS_ENABLED: 'maybe' }), /JOBS_ENABLED/);
    const c = loadConfig({});
    assert.equal(c.pollTimeoutDefaultS, 25);
    assert.ok(Object.isFrozen(c));
  });
});
