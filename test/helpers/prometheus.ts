// A strict parser of the Prometheus text exposition format (0.0.4), for tests: every line must be
// a comment, a HELP/TYPE line or a sample of a declared family (histogram samples with the
// _bucket/_sum/_count suffixes), label values unescaped, values numbers. Anything else throws.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+-?\\d+)?$`);
const LABEL_RE = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;

function parseLabels(text: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  LABEL_RE.lastIndex = 0;
  while (LABEL_RE.lastIndex < text.length) {
    const m = LABEL_RE.exec(text);
    if (!m) throw new Error(`bad labels in: ${line}`);
    out[m[1]!] = m[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
  }
  return out;
}

function parseValue(v: string, line: string): number {
  // As Prometheus reads them (Go's ParseFloat): Inf and NaN in any case (prom-client writes "Nan").
  if (/^\+?inf$/i.test(v)) return Infinity;
  if (/^-inf$/i.test(v)) return -Infinity;
  if (/^nan$/i.test(v)) return NaN;
  const n = Number(v);
  if (v === '' || Number.isNaN(n)) throw new Error(`bad value in: ${line}`);
  return n;
}

export function parsePrometheus(text: string): Map<string, Family> {
  const fams = new Map<string, Family>();
  const family = (name: string) => {
    let f = fams.get(name);
    if (!f) fams.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
    return f;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (m) {
      const f = family(m[2]!);
      if (m[1] === 'HELP') f.help = m[3]!;
      else {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]!)) throw new Error(`bad TYPE: ${line}`);
        f.type = m[3] as Family['type'];
      }
      continue;
    }
    if (line.startsWith('#')) continue;
    m = SAMPLE_RE.exec(line);
    if (!m) throw new Error(`not a sample: ${line}`);
    const name = m[1]!;
    const owner = fams.get(name) ?? fams.get(name.replace(/_(bucket|sum|count)$/, ''));
    if (!owner) throw new Error(`sample of an undeclared family: ${line}`);
    if (owner.name !== name && owner.type !== 'histogram' && owner.type !== 'summary') throw new Error(`suffix on a ${owner.type}: ${line}`);
    owner.samples.push({ name, labels: parseLabels(m[2] ?? '', line), value: parseValue(m[3]!, line) });
  }
  return fams;
}

/** Sum of the samples named `sample` (default: the family's own name) whose labels include `labels`. */
export function sumOf(fams: Map<string, Family>, family: string, labels: Record<string, string> = {}, sample = family): number {
  const f = fams.get(family);
  if (!f) return 0;
  return f.samples
    .filter((s) => s.name === sample && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}
