// The bytes of delivered entries: a poll answer's message array (SSE message events: sse.ts). Each entry
// is written straight into one buffer (its seq put in front of the stored body). Built as strings
// instead (a seq spliced into each body, joined, wrapped, then encoded on write) a page of 1,000
// entries (~190 KB) cost ~2.2 ms of CPU; this way ~0.3 ms (README "Performance").
import type { Entry } from '../services/reader.ts';
import { withSeq } from '../../db/queries/messageJson.ts';

const SEQ = '{"seq":';
const COMMA = 0x2c;

/** Bytes of `{"seq":N,` + the body after its opening brace. */
export function entryBytes(e: Entry, seq: string): number {
  return SEQ.length + seq.length + Buffer.byteLength(e.body);
}

/** Writes an entry's JSON at `o`; returns the offset after it. */
export function putEntry(out: Buffer, o: number, e: Entry, seq: string): number {
  o += out.write(SEQ, o, 'latin1');
  o += out.write(seq, o, 'latin1');
  const brace = o;
  o += out.write(e.body, o, 'utf8');
  out[brace] = COMMA; // the body's own '{' becomes the comma after the seq
  return o;
}

/** `{"messages":[<entries>]` followed by `after` (the rest of the answer, from its comma). */
export function pollAnswer(entries: readonly Entry[], after: string): Buffer {
  const seqs = entries.map((e) => String(e.seq));
  const open = '{"messages":[';
  let n = open.length + 1 + Buffer.byteLength(after) + Math.max(0, entries.length - 1);
  for (let i = 0; i < entries.length; i++) n += entryBytes(entries[i]!, seqs[i]!);
  const out = Buffer.allocUnsafe(n);
  let o = out.write(open, 0, 'latin1');
  for (let i = 0; i < entries.length; i++) {
    if (i > 0) out[o++] = COMMA;
    o = putEntry(out, o, entries[i]!, seqs[i]!);
  }
  o += out.write(']', o, 'latin1');
  o += out.write(after, o, 'utf8');
  return out;
}

/** An entry's JSON as a string (what pollAnswer and messageEvents write). */
export function entryJson(e: Entry): string {
  return withSeq(e.seq, e.body);
}
