// The bytes written for entries must be exactly what the string forms say, whatever the characters.
import assert from 'node:assert/strict';
import { pollAnswer, entryJson } from '../../app/http/wire.ts';
import { messageEvents, frame } from '../../app/http/sse.ts';
import type { Entry } from '../../app/services/reader.ts';

const bodies = [
  '{"id":"a","payload":{"t":"plain"}}',
  '{"id":"b","payload":{"t":"é ü ß — ✓"}}',
  '{"id":"c","payload":{"t":"😀 𝄞 two surrogate pairs"}}',
  '{"id":"d","payload":{}}',
];
const entries: Entry[] = bodies.map((body, i) => ({ seq: 9 + i * 991, body }));

describe('wire bytes', () => {
  it('a poll answer is the entries, seq first, then the rest of the answer — valid JSON, byte for byte', () => {
    const after = ',"next":2982,"more":false,"read":0,"signals":["ñ"]}';
    const buf = pollAnswer(entries, after);
    const text = `{"messages":[${entries.map(entryJson).join(',')}]${after}`;
    assert.equal(buf.length, Buffer.byteLength(text));
    assert.equal(buf.toString('utf8'), text);
    const parsed = JSON.parse(buf.toString('utf8'));
    assert.deepEqual(parsed.messages.map((m: { seq: number }) => m.seq), [9, 1000, 1991, 2982]);
    assert.equal(parsed.messages[2].payload.t, '😀 𝄞 two surrogate pairs');
    assert.deepEqual(Object.keys(parsed.messages[0]), ['seq', 'id', 'payload']);
  });

  it('an empty answer is just the wrapper', () => {
    assert.equal(pollAnswer([], ',"next":5}').toString(), '{"messages":[],"next":5}');
  });

  it('SSE message events: id, event and one data line per entry, as the general framing writes them', () => {
    const buf = messageEvents(entries);
    const text = entries.map((e) => frame('message', entryJson(e), e.seq)).join('');
    assert.equal(buf.length, Buffer.byteLength(text));
    assert.equal(buf.toString('utf8'), text);
  });

  it('a body with a line break (never stored, but never trusted) is split into data lines', () => {
    const odd: Entry[] = [{ seq: 1, body: '{"a":"x\ndata: {\\"forged\\":1}\n\nid: 99"}' }];
    const text = messageEvents(odd).toString('utf8');
    assert.equal(text.split('\n\n').filter(Boolean).length, 1, text);
    assert.ok(!/^id: 99$/m.test(text));
  });
});
