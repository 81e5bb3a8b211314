import { expect } from 'chai';
import { addOpenApiLinks, OPENAPI_LINKS, operationRef } from '../../api/http/openapi-links';

/** A document with exactly the operations the link table names, as the generator would emit them. */
function documentOfTheTable() {
  const paths: Record<string, Record<string, { parameters: { name: string; in: string }[]; responses: Record<string, object> }>> = {};
  const add = (op: string, status = '200') => {
    const [method, path] = op.split(' ');
    const parameters = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => ({ name: m[1], in: 'path' }));
    (paths[path] ??= {})[method.toLowerCase()] ??= { parameters, responses: { [status]: { description: 'ok' } } };
  };
  for (const source of OPENAPI_LINKS) {
    add(source.from, '201');
    for (const link of Object.values(source.to)) add(link.op);
  }
  return { paths };
}

describe('OpenAPI links (the table the stateful contract fuzzer walks)', () => {
  it('gives every link a target operation and exactly the path parameters it needs', () => {
    const document = documentOfTheTable();
    addOpenApiLinks(document);
    for (const source of OPENAPI_LINKS) {
      for (const [name, link] of Object.entries(source.to)) {
        const needed = [...link.op.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
        expect(Object.keys(link.parameters).sort(), `${source.from} → ${name}`).to.deep.equal(needed);
        for (const expression of Object.values(link.parameters)) expect(expression).to.match(/^\$(response\.body#(\/\w+)+|request\.path\.\w+)$/);
      }
      const [method, path] = source.from.split(' ');
      const responses = document.paths[path][method.toLowerCase()].responses;
      const links = (Object.values(responses)[0] as { links: Record<string, { operationRef: string }> }).links;
      expect(Object.keys(links)).to.have.length(Object.keys(source.to).length);
    }
  });

  it('refuses a table that names an operation the document lacks, so a renamed route cannot leave a dead link', () => {
    const document = documentOfTheTable();
    delete (document.paths as Record<string, unknown>)['/api/horses/{id}'];
    expect(() => addOpenApiLinks(document)).to.throw(/GET \/api\/horses\/\{id\}/);
  });

  it('points each link at its operation with an escaped JSON pointer', () => {
    expect(operationRef('GET /api/horses/{id}/health')).to.equal('#/paths/~1api~1horses~1{id}~1health/get');
  });
});
