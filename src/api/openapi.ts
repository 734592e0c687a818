import { z, type ZodType } from 'zod';
import type { ApiRoute } from './api-route.js';

type JsonSchema = Record<string, unknown>;

const toSchema = (schema: ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

const errorSchema = { $ref: '#/components/schemas/Error' };
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: errorSchema } } });

/** Statuses every route of a given shape can answer, so the document never forgets them. */
function derivedErrors(route: ApiRoute): Record<number, string> {
  const errors: Record<number, string> = {};
  if (route.params || route.query || route.body) errors[400] = 'The request is malformed; error_description names the field.';
  if (route.access !== 'public') {
    errors[401] = 'No credential, or an invalid, expired or revoked one.';
    errors[403] = 'The credential does not allow this.';
  }
  if (route.path.includes('/:')) errors[404] = 'No such resource.';
  if (route.body) errors[415] = 'The body is not JSON.';
  return { ...errors, ...route.errors };
}

/** Path and query parameters, one OpenAPI parameter per property of the object schema. */
function parameters(schema: ZodType | undefined, location: 'path' | 'query') {
  if (!schema) return [];
  const json = toSchema(schema, 'input') as { properties?: Record<string, JsonSchema & { description?: string }>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || (json.required ?? []).includes(name),
    ...(property.description ? { description: property.description } : {}),
    schema: property,
  }));
}

/**
 * The OpenAPI 3.1 document, generated from the same zod schemas that validate requests
 * and responses, so the document cannot drift from the code.
 */
export function openApiDocument(routes: readonly ApiRoute[], info: { issuer: string; version: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const path = route.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(route.responses)) {
      responses[status] = {
        description: response.description,
        ...(response.schema ? { content: { 'application/json': { schema: toSchema(response.schema, 'output') } } } : {}),
      };
    }
    for (const [status, description] of Object.entries(derivedErrors(route))) responses[status] = errorResponse(description);
    (paths[path] ??= {})[route.method] = {
      operationId: `${route.method}${path.replace(/[{}]/g, '').replace(/(^|[/_-])(\w)/g, (_m, _s: string, c: string) => c.toUpperCase())}`,
      summary: route.summary,
      tags: [route.tag],
      ...(route.access === 'public' ? {} : { security: [{ bearer: [] }] }),
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
      ...(route.body ? { requestBody: { required: !route.bodyOptional, content: { 'application/json': { schema: toSchema(route.body, 'input') } } } } : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Gatehouse management API',
      version: info.version,
      description: 'Users, tools, permissions, API keys and the audit log. Errors are { error, error_description }.',
    },
    servers: [{ url: info.issuer }],
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'An API key (ghk_…) or an access token issued by this provider.',
        },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'error_description'],
          properties: { error: { type: 'string' }, error_description: { type: 'string' } },
        },
      },
    },
    paths,
  };
}

