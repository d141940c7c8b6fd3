// The browser files must run in old browsers without a build step: ES5 syntax only, and no
// ES2015+ globals or methods (fetch, Promise, Map, includes, …). A TypeScript AST walk finds them.
// (The runtime side is in test/browser: the demo works with EventSource, BroadcastChannel, fetch
// and Promise deleted.)
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { PUBLIC_DIR } from '../../app/http/routes/pages.ts';

const FILES = ['mailslot.js', 'demo.js'];

const SYNTAX: Partial<Record<ts.SyntaxKind, string>> = {
  [ts.SyntaxKind.ArrowFunction]: 'arrow function',
  [ts.SyntaxKind.ClassDeclaration]: 'class',
  [ts.SyntaxKind.ClassExpression]: 'class',
  [ts.SyntaxKind.TemplateExpression]: 'template literal',
  [ts.SyntaxKind.NoSubstitutionTemplateLiteral]: 'template literal',
  [ts.SyntaxKind.TaggedTemplateExpression]: 'tagged template',
  [ts.SyntaxKind.SpreadElement]: 'spread',
  [ts.SyntaxKind.SpreadAssignment]: 'object spread',
  [ts.SyntaxKind.ShorthandPropertyAssignment]: 'shorthand property',
  [ts.SyntaxKind.ComputedPropertyName]: 'computed property name',
  [ts.SyntaxKind.ForOfStatement]: 'for…of',
  [ts.SyntaxKind.ObjectBindingPattern]: 'destructuring',
  [ts.SyntaxKind.ArrayBindingPattern]: 'destructuring',
  [ts.SyntaxKind.AwaitExpression]: 'await',
  [ts.SyntaxKind.YieldExpression]: 'yield',
  [ts.SyntaxKind.MethodDeclaration]: 'method shorthand',
  [ts.SyntaxKind.BigIntLiteral]: 'BigInt literal',
  [ts.SyntaxKind.ImportDeclaration]: 'import',
  [ts.SyntaxKind.ExportDeclaration]: 'export',
  [ts.SyntaxKind.QuestionDotToken]: 'optional chaining',
  [ts.SyntaxKind.QuestionQuestionToken]: '??',
  [ts.SyntaxKind.AsteriskAsteriskToken]: '**',
};
const GLOBALS = new Set(['Promise', 'fetch', 'Map', 'Set', 'WeakMap', 'WeakSet', 'Symbol', 'Proxy', 'Reflect', 'globalThis', 'queueMicrotask', 'structuredClone']);
const METHODS = new Set(['includes', 'startsWith', 'endsWith', 'find', 'findIndex', 'assign', 'padStart', 'padEnd', 'repeat', 'flat', 'flatMap', 'fromEntries', 'replaceAll', 'at']);

function problems(full: string): string[] {
  const file = path.basename(full);
  const text = fs.readFileSync(full, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  const out: string[] = [];
  const at = (n: ts.Node) => `${file}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;
  const visit = (n: ts.Node): void => {
    const what = SYNTAX[n.kind];
    if (what) out.push(`${at(n)} ${what}`);
    if (ts.isVariableDeclarationList(n) && n.flags & (ts.NodeFlags.Let | ts.NodeFlags.Const)) out.push(`${at(n)} let/const`);
    if (ts.isParameter(n) && (n.initializer || n.dotDotDotToken)) out.push(`${at(n)} default or rest parameter`);
    if ((ts.isFunctionDeclaration(n) || ts.isFunctionExpression(n)) && (n.asteriskToken || n.modifiers?.length)) out.push(`${at(n)} generator or async function`);
    if (ts.isRegularExpressionLiteral(n) && /\/[a-z]*[suyd][a-z]*$/.test(n.text)) out.push(`${at(n)} ES2015+ regex flag`);
    if (ts.isNumericLiteral(n) && /^0[bBoO]/.test(n.getText(sf))) out.push(`${at(n)} binary/octal literal`);
    if (ts.isIdentifier(n) && GLOBALS.has(n.text) && !(ts.isPropertyAccessExpression(n.parent) && n.parent.name === n) && !ts.isPropertyAssignment(n.parent)) {
      out.push(`${at(n)} ${n.text}`);
    }
    if (ts.isPropertyAccessExpression(n) && METHODS.has(n.name.text) && ts.isCallExpression(n.parent)) out.push(`${at(n)} .${n.name.text}()`);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  const parseErrors = (sf as unknown as { parseDiagnostics: ts.Diagnostic[] }).parseDiagnostics ?? [];
  for (const d of parseErrors) out.push(`${file}: parse error ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  return out;
}

describe('browser files are ES5 for old browsers', () => {
  for (const f of FILES) {
    it(`public/${f}: ES5 syntax, no ES2015+ globals or methods`, () => {
      assert.deepEqual(problems(path.join(PUBLIC_DIR, f)), []);
    });
  }

  it('the checker itself catches what it should (it can fail)', () => {
    const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'mailslot-es5-')), 'probe.js');
    fs.writeFileSync(tmp, 'const a = () => `x`; fetch(a); [1].includes(1); var {b} = {b: 1};');
    try {
      const found = problems(tmp).join('\n');
      for (const w of ['let/const', 'arrow function', 'template literal', 'fetch', '.includes()', 'destructuring']) assert.match(found, new RegExp(w.replace(/[.()]/g, '\\$&')));
    } finally {
      fs.rmSync(path.dirname(tmp), { recursive: true });
    }
  });
});
