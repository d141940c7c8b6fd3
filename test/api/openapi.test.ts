// /openapi.json: a valid OpenAPI 3.1 document, and it matches the routes the server really serves,
// both ways. The served routes are the hot path's plus those found by walking the express router
// stack, so a route added anywhere without an entry in the route table (app/http/api.ts) fails.
import assert from 'node:assert/strict';
import SwaggerParser from '@apidevtools/swagger-parser';
import { appRoutes } from '../helpers/routes.ts';
import { toOpenApiPath } from '../../app/http/api.ts';
import { startApp, type TestApp } from '../helpers/app.ts';

describe('OpenAPI document', () => {
  let app: TestApp;
  let doc: { openapi: string; paths: Record<string, Record<string, unknown>> };
  before(async () => {
    app = await startApp();
    const r = await app.http.get('/openapi.json').expect(200);
    doc = r.body;
  });
  after(() => app.close());

  it('is valid OpenAPI 3.1', async () => {
    assert.equal(doc.openapi, '3.1.0');
    await SwaggerParser.validate(structuredClone(doc) as never);
  });

  it('documents every served route, and serves every documented one', () => {
    const served = new Set(appRoutes(app.service.deps).map(([m, p]) => `${m} ${toOpenApiPath(p)}`));
    const documented = new Set<string>();
    for (const [p, ops] of Object.entries(doc.paths)) for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${p}`);
    assert.ok(served.size >= 10, `walked the router stack: ${[...served].join(', ')}`);
    assert.deepEqual([...served].filter((r) => !documented.has(r)).sort(), [], 'served but not documented');
    assert.deepEqual([...documented].filter((r) => !served.has(r)).sort(), [], 'documented but not served');
  });

  it('describes request bodies with the schemas that validate them', () => {
    const publish = doc.paths['/v1/messages']!.post as { requestBody: { content: { 'application/json': { schema: { properties: Record<string, unknown>; additionalProperties?: unknown; required?: string[] } } } } };
    const schema = publish.requestBody.content['application/json'].schema;
    assert.deepEqual(Object.keys(schema.properties).sort(), ['dedupId', 'from', 'group', 'payload', 'to', 'ttlSeconds', 'type']);
    assert.deepEqual(schema.required, ['payload']);
    assert.equal(schema.additionalProperties, false, 'strict objects refuse unknown fields, and say so');
  });
});
