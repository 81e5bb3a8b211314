/**
 * OpenAPI links: which response feeds which next request (a created horse's id is the
 * {id} of GET /api/horses/{id} …). They let a client generator, and the stateful phase of
 * the contract fuzzer (test/integration/contract-fuzz.test.ts), walk the API from what it
 * creates instead of guessing ids that only ever answer 404.
 *
 * One table for the whole API, added to the generated document (buildOpenApiDocument),
 * so feature routers stay declarations of their routes. test/unit/openapi-links.test.ts
 * checks that every link names an existing operation and each of its path parameters.
 */
type Op = `${'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'} /api/${string}`;

interface LinkSource {
  /** The operation whose success response carries the values. */
  from: Op;
  /** Link name → target operation and its parameters (runtime expressions). */
  to: Record<string, { op: Op; parameters: Record<string, string> }>;
}

const id = '$response.body#/id';
const pathId = '$request.path.id';
/** The first item of a page ({items: […]}) or of a plain array: lists feed the ids they show. */
const firstItem = '$response.body#/items/0/id';
const firstOfArray = '$response.body#/0/id';

/** The same parameters for several targets. */
const each = (prefix: string, ops: Op[], parameters: Record<string, string>) =>
  Object.fromEntries(ops.map((op) => [`${prefix}${op.replace(/[^A-Za-z]+/g, '_')}`, { op, parameters }]));

/** What one horse's id opens, besides the horse itself (reached from a create and from the list). */
const horseSubresources: Op[] = [
  'GET /api/horses/{id}/analyses',
  'GET /api/horses/{id}/health',
  'GET /api/horses/{id}/health/records',
  'POST /api/horses/{id}/health/records',
  'GET /api/horses/{id}/health/plan',
  'GET /api/horses/{id}/health/competition-eligibility',
  'POST /api/horses/{id}/health/share-links',
  'GET /api/horses/{id}/health/share-links',
];

export const OPENAPI_LINKS: LinkSource[] = [
  {
    from: 'POST /api/horses',
    to: each(
      'horse',
      ['GET /api/horses/{id}', 'PATCH /api/horses/{id}', 'DELETE /api/horses/{id}', ...horseSubresources],
      { id },
    ),
  },
  {
    // Reads and updates only: a list feeding DELETE would remove the run's seeded objects
    // (test/integration/contract-fuzz.test.ts) early and leave later scenarios 404s.
    from: 'GET /api/horses',
    to: each(
      'listedHorse',
      ['GET /api/horses/{id}', 'PATCH /api/horses/{id}', ...horseSubresources],
      { id: firstItem },
    ),
  },
  {
    from: 'GET /api/horses/{id}/health/records',
    to: {
      ...each('listedRecord', ['GET /api/horses/{id}/health/records/{recordId}', 'PATCH /api/horses/{id}/health/records/{recordId}'], { id: pathId, recordId: firstItem }),
      ...each('attachListed', ['POST /api/health/attachments/records/{recordId}'], { recordId: firstItem }),
    },
  },
  {
    from: 'GET /api/horses/{id}/health/plan',
    to: each('planItem', ['PUT /api/horses/{id}/health/plan/{key}', 'DELETE /api/horses/{id}/health/plan/{key}'], { id: pathId, key: '$response.body#/items/0/key' }),
  },
  {
    from: 'GET /api/horses/{id}/health/share-links',
    to: each('listedLink', ['DELETE /api/horses/{id}/health/share-links/{linkId}'], { id: pathId, linkId: firstItem }),
  },
  {
    from: 'GET /api/horses/{id}/analyses',
    to: each('listedAnalysis', ['GET /api/analyses/{id}'], { id: firstItem }),
  },
  {
    from: 'POST /api/health/records/bulk',
    to: each('bulkRecord', ['GET /api/horses/{id}/health/records/{recordId}', 'PATCH /api/horses/{id}/health/records/{recordId}'], {
      id: '$response.body#/records/0/horseId',
      recordId: '$response.body#/records/0/id',
    }),
  },
  {
    from: 'POST /api/horses/{id}/health/records',
    to: {
      ...each(
        'record',
        ['GET /api/horses/{id}/health/records/{recordId}', 'PATCH /api/horses/{id}/health/records/{recordId}', 'DELETE /api/horses/{id}/health/records/{recordId}'],
        { id: pathId, recordId: id },
      ),
      ...each('attach', ['POST /api/health/attachments/records/{recordId}'], { recordId: id }),
    },
  },
  {
    from: 'POST /api/health/attachments/records/{recordId}',
    to: each('attachment', ['GET /api/health/attachments/{attachmentId}', 'DELETE /api/health/attachments/{attachmentId}'], { attachmentId: id }),
  },
  {
    from: 'POST /api/horses/{id}/health/share-links',
    to: {
      ...each('link', ['DELETE /api/horses/{id}/health/share-links/{linkId}'], { id: pathId, linkId: id }),
      ...each('shared', ['GET /api/health/shared/{token}'], { token: '$response.body#/token' }),
    },
  },
  {
    from: 'POST /api/health/calendar-feeds',
    to: each('feed', ['DELETE /api/health/calendar-feeds/{feedId}'], { feedId: id }),
  },
  {
    from: 'POST /api/gestations',
    to: each(
      'gestation',
      ['GET /api/gestations/{id}', 'PATCH /api/gestations/{id}', 'POST /api/gestations/{id}/checks', 'POST /api/gestations/{id}/loss', 'POST /api/gestations/{id}/foaling'],
      { id },
    ),
  },
  {
    from: 'GET /api/gestations',
    to: each('listedGestation', ['GET /api/gestations/{id}', 'PATCH /api/gestations/{id}', 'POST /api/gestations/{id}/checks'], { id: firstItem }),
  },
  {
    from: 'POST /api/gestations/{id}/foaling',
    to: each('foal', ['GET /api/horses/{id}', 'GET /api/horses/{id}/health'], { id: '$response.body#/foal/id' }),
  },
  {
    from: 'POST /api/marketplace/my/listings',
    to: each(
      'listing',
      [
        'GET /api/marketplace/my/listings/{id}',
        'PATCH /api/marketplace/my/listings/{id}',
        'DELETE /api/marketplace/my/listings/{id}',
        'POST /api/marketplace/my/listings/{id}/publish',
        'POST /api/marketplace/my/listings/{id}/renew',
        'POST /api/marketplace/my/listings/{id}/sold',
        'POST /api/marketplace/my/listings/{id}/withdraw',
        'GET /api/marketplace/my/listings/{id}/lifecycle',
        'GET /api/marketplace/listings/{id}',
        'POST /api/marketplace/listings/{id}/favorite',
        'DELETE /api/marketplace/listings/{id}/favorite',
      ],
      { id },
    ),
  },
  {
    from: 'POST /api/marketplace/my/listings/{id}/publish',
    to: each('published', ['GET /api/marketplace/listings/{id}', 'POST /api/marketplace/listings/{id}/favorite'], { id }),
  },
  {
    from: 'GET /api/marketplace/my/listings',
    to: each(
      'myListed',
      [
        'GET /api/marketplace/my/listings/{id}',
        'PATCH /api/marketplace/my/listings/{id}',
        'POST /api/marketplace/my/listings/{id}/publish',
        'POST /api/marketplace/my/listings/{id}/renew',
        'GET /api/marketplace/my/listings/{id}/lifecycle',
      ],
      { id: firstItem },
    ),
  },
  {
    from: 'GET /api/marketplace/listings',
    to: each('searched', ['GET /api/marketplace/listings/{id}', 'POST /api/marketplace/listings/{id}/favorite'], { id: firstItem }),
  },
  {
    from: 'GET /api/notifications',
    to: each('notification', ['POST /api/notifications/{id}/read'], { id: firstItem }),
  },
  {
    from: 'POST /api/analyses',
    to: each('analysis', ['GET /api/analyses/{id}', 'POST /api/analyses/{id}/cancel'], { id }),
  },
  {
    from: 'POST /api/auth/api-keys',
    to: each('key', ['DELETE /api/auth/api-keys/{id}'], { id }),
  },
  {
    from: 'POST /api/organizations',
    to: each('organization', ['GET /api/organizations/{id}/members', 'POST /api/organizations/{id}/invitations', 'GET /api/organizations/{id}/invitations'], { id }),
  },
  {
    from: 'GET /api/organizations',
    to: each('listedOrganization', ['GET /api/organizations/{id}/members', 'POST /api/organizations/{id}/invitations', 'GET /api/organizations/{id}/invitations'], { id: firstOfArray }),
  },
  {
    from: 'GET /api/invitations',
    to: each('myInvitation', ['POST /api/invitations/{id}/accept'], { id: firstOfArray }),
  },
  {
    from: 'POST /api/organizations/{id}/invitations',
    to: each('invitation', ['DELETE /api/organizations/{id}/invitations/{invitationId}'], { id: pathId, invitationId: id }),
  },
];

type Method = 'get' | 'put' | 'post' | 'patch' | 'delete';
/** What this module reads and writes of a response; a `$ref` response cannot carry links here. */
type Response = { links?: Record<string, unknown> } | { $ref: string };
type Operation = { responses?: Record<string, Response> };
/**
 * The part of an OpenAPI document the links touch, by HTTP method rather than by any string:
 * the generator's OpenAPIObject (whose path items have no index signature) fits it as it is.
 */
type Document = { paths?: Record<string, Partial<Record<Method, Operation>> | undefined> };

const METHODS: readonly string[] = ['get', 'put', 'post', 'patch', 'delete'] satisfies Method[];
const isMethod = (m: string): m is Method => METHODS.includes(m);

const split = (op: Op) => {
  const [verb, path] = op.split(' ');
  const method = verb.toLowerCase();
  // Op's type allows only these verbs; the guard states it for the compiler.
  if (!isMethod(method)) throw new Error(`OpenAPI link table: unknown method in ${op}`);
  return { method, path };
};

/** "POST /api/horses/{id}" → a JSON pointer to that operation in the document. */
export const operationRef = (op: Op) => {
  const { method, path } = split(op);
  return `#/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method}`;
};

/**
 * Adds the links to the success responses of the document's operations. A link to or from
 * an operation the document does not have is an error: the table must follow the routes.
 */
export function addOpenApiLinks(document: Document, sources: LinkSource[] = OPENAPI_LINKS): void {
  const operation = (op: Op) => {
    const { method, path } = split(op);
    const found = document.paths?.[path]?.[method];
    if (!found) throw new Error(`OpenAPI link table names ${op}, which the document does not declare`);
    return found;
  };
  for (const source of sources) {
    const from = operation(source.from);
    const success = Object.keys(from.responses ?? {}).find((s) => /^2\d\d$/.test(s) && s !== '204');
    if (!success) throw new Error(`OpenAPI link source ${source.from} has no success response with a body`);
    const response = from.responses![success];
    if ('$ref' in response) throw new Error(`OpenAPI link source ${source.from} answers a $ref response, which cannot carry links here`);
    response.links ??= {};
    for (const [name, link] of Object.entries(source.to)) {
      operation(link.op);
      response.links[name] = { operationRef: operationRef(link.op), parameters: link.parameters };
    }
  }
}
