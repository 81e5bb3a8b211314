import { z } from 'zod';
import { OpenAPIRegistry, OpenApiGeneratorV3, extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { addOpenApiLinks } from './openapi-links';

extendZodWithOpenApi(z);

export function createRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  registry.registerComponent('securitySchemes', 'apiKey', { type: 'apiKey', in: 'header', name: 'X-API-Key' });
  return registry;
}

/** JSON's safe integers: what zod's .int() enforces when a schema states no tighter bound. */
const SAFE_INTEGER = Number.MAX_SAFE_INTEGER;
/** What z.iso.date() accepts (real calendar dates), as a pattern (format alone lets generators send ""). */
export const ISO_DATE_PATTERN = z.regexes.date.source;
/** zod's email rule, as the document's pattern (format alone lets generators send ""). */
export const EMAIL_PATTERN = z.regexes.email.source;

/**
 * States in the document the bounds zod enforces implicitly, so the document says
 * everything the validators check: safe-integer bounds on every integer, and the
 * pattern behind every date and email format. Applied to the generated document
 * (every schema object, components included) rather than to each schema by hand.
 */
function stateImplicitBounds(node: unknown): void {
  if (Array.isArray(node)) return node.forEach(stateImplicitBounds);
  if (!node || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  if (o.type === 'integer') {
    o.minimum ??= -SAFE_INTEGER;
    o.maximum ??= SAFE_INTEGER;
  }
  if (o.type === 'string' && o.format === 'date') o.pattern ??= ISO_DATE_PATTERN;
  if (o.type === 'string' && o.format === 'email') {
    o.pattern ??= EMAIL_PATTERN;
    o.maxLength ??= 254;
  }
  for (const value of Object.values(o)) stateImplicitBounds(value);
}

export function buildOpenApiDocument(registry: OpenAPIRegistry, serverUrl: string) {
  const document = new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'Horse Tempo API',
      version: '0.1.0',
      description:
        'REST API of Horse Tempo. Long-running work (video analysis, subscriptions, gestation reminders, ' +
        'listing expiry) runs as Temporal workflows. Errors share one shape: {statusCode, error, message, details?, requestId}.',
    },
    servers: [{ url: serverUrl }],
  });
  stateImplicitBounds(document.paths);
  stateImplicitBounds(document.components);
  addOpenApiLinks(document);
  return document;
}

/** The error body every 4xx/5xx answer uses, for the docs. */
export const ErrorBodySchema = z
  .object({
    statusCode: z.number().int(),
    error: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
    requestId: z.string(),
  })
  .openapi('Error');
