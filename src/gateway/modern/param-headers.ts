import { ErrorCode } from '../../protocol.js';
import type { JsonRpcId, WireMessage } from '../../upstream/channel.js';
import { decodeHeaderValue } from '../era.js';
import { HttpError } from '../http/errors.js';
import type { HeaderReader } from '../http/request.js';

/**
 * `Mcp-Param-{Name}` headers (2026-07-28): a tool may mark parameters with
 * `x-mcp-header` so that clients mirror their values into headers; a server that
 * reads the body must check that every such header matches the body. The gateway
 * learns the annotations from the tools/list results it relays.
 */

/** One annotated parameter: where it sits in the arguments, its header name, its JSON type. */
export interface ParamHeader {
  readonly path: readonly string[];
  readonly header: string;
  readonly type: string;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The annotated parameters of one tool's input schema (statically reachable through `properties` only). */
export function paramHeadersOf(inputSchema: unknown): ParamHeader[] {
  const found: ParamHeader[] = [];
  const walk = (schema: unknown, path: string[]): void => {
    if (schema === null || typeof schema !== 'object') return;
    const properties = (schema as { properties?: Record<string, unknown> }).properties;
    if (!properties || typeof properties !== 'object') return;
    for (const [key, property] of Object.entries(properties)) {
      if (property === null || typeof property !== 'object') continue;
      const header = (property as Record<string, unknown>)['x-mcp-header'];
      const type = (property as { type?: unknown }).type;
      if (typeof header === 'string' && TOKEN.test(header)) {
        found.push({ path: [...path, key], header: header.toLowerCase(), type: typeof type === 'string' ? type : 'string' });
      }
      walk(property, [...path, key]);
    }
  };
  walk(inputSchema, []);
  return found;
}

/** What the gateway knows of each tool's annotated parameters, by tool name. */
export class ParamHeaderTable {
  private readonly byTool = new Map<string, readonly ParamHeader[]>();

  /** Learns from a tools/list result (replacing what it knew of those tools). */
  learn(result: unknown): void {
    const tools = (result as { tools?: unknown } | undefined)?.tools;
    if (!Array.isArray(tools)) return;
    for (const tool of tools) {
      const name = (tool as { name?: unknown }).name;
      if (typeof name !== 'string') continue;
      const params = paramHeadersOf((tool as { inputSchema?: unknown }).inputSchema);
      if (params.length > 0) this.byTool.set(name, params);
      else this.byTool.delete(name);
    }
  }

  /**
   * Checks a tools/call's `Mcp-Param-*` headers against its arguments. Throws
   * 400 `-32020 HeaderMismatch` when a value is missing, extra, malformed or different.
   */
  check(headers: HeaderReader, message: WireMessage): void {
    if (message.method !== 'tools/call') return;
    const params = (message.params ?? {}) as { name?: unknown; arguments?: unknown };
    const annotated = typeof params.name === 'string' ? this.byTool.get(params.name) : undefined;
    if (!annotated) return;
    const id = (message.id ?? null) as JsonRpcId | null;
    for (const param of annotated) {
      let value: unknown = params.arguments;
      for (const key of param.path) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
      const raw = headers.get(`mcp-param-${param.header}`);
      const name = `Mcp-Param-${param.header}`;
      if (value === undefined || value === null) {
        if (raw !== null) throw mismatch(id, `${name} is set but the argument ${param.path.join('.')} is absent`);
        continue;
      }
      if (raw === null) throw mismatch(id, `${name} is required: the argument ${param.path.join('.')} is set`);
      const decoded = decodeHeaderValue(raw);
      if (decoded === undefined) throw mismatch(id, `${name} has invalid characters or a malformed Base64 value`);
      const same =
        typeof value === 'number' ? decoded.trim() !== '' && Number(decoded) === value : typeof value === 'boolean' ? decoded === String(value) : decoded === value;
      if (!same) throw mismatch(id, `${name} header value '${decoded}' does not match body value '${String(value)}'`);
    }
  }
}

function mismatch(id: JsonRpcId | null, message: string): HttpError {
  return new HttpError(400, ErrorCode.HeaderMismatch, `Header mismatch: ${message}`, { id });
}
