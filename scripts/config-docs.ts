import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { FleetConfigSchema } from '../src/config/schema.js';

/**
 * Writes docs/CONFIG.md, the reference of every config field, from the zod schema
 * so it cannot drift: types, bounds and defaults come from `z.toJSONSchema`, the
 * descriptions from the schema's `.describe()` texts or else the JSDoc comment on
 * each field in src/config/*schema*.ts, the examples from examples/*.yaml (else the
 * field's `@example` tag, else its default). `npm run docs:config` writes it;
 * test/config/config-docs.test.ts fails when the file is out of date.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the schema lives; every `z.object({...})` in them is read for its field comments. */
const SCHEMA_FILES = ['src/config/schema.ts', 'src/config/auth-schema.ts', 'src/config/deploy-schema.ts'];
/** Real configs whose values serve as examples. */
const EXAMPLE_FILES = ['examples/fleet.yaml', 'examples/aws-reference.yaml'];
/** The generated file. */
export const CONFIG_DOCS_PATH = join(ROOT, 'docs', 'CONFIG.md');

/** A field's comment: the text and the `@default` / `@example` tags. */
interface FieldDoc {
  readonly text: string;
  readonly defaultText?: string;
  readonly example?: string;
}

/** Field comments of every `z.object({...})` literal, keyed by its sorted field names. */
function fieldDocsBySignature(): Map<string, Map<string, FieldDoc>> {
  const out = new Map<string, Map<string, FieldDoc>>();
  for (const file of SCHEMA_FILES) {
    const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.ES2022, true);
    // Shapes shared by spreading (`...ServiceSizingShape`): `const Name = { ... }` literals of the file.
    const shapes = new Map<string, ts.ObjectLiteralExpression>();
    const collect = (node: ts.Node): void => {
      if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer !== undefined && ts.isObjectLiteralExpression(node.initializer)) shapes.set(node.name.text, node.initializer);
      ts.forEachChild(node, collect);
    };
    collect(source);
    const fieldsOf = (literal: ts.ObjectLiteralExpression, fields: Map<string, FieldDoc>): Map<string, FieldDoc> => {
      for (const prop of literal.properties) {
        if (ts.isPropertyAssignment(prop)) fields.set(prop.name.getText(source).replace(/^['"]|['"]$/g, ''), docOf(prop));
        else if (ts.isSpreadAssignment(prop) && ts.isIdentifier(prop.expression)) {
          const shape = shapes.get(prop.expression.text);
          if (shape !== undefined) fieldsOf(shape, fields);
        }
      }
      return fields;
    };
    const visit = (node: ts.Node): void => {
      const arg = isZodObjectCall(node, source) ? node.arguments[0] : undefined;
      // `z.object({...})`, or `z.object(SharedShape)` naming a literal of the file.
      const literal = arg === undefined ? undefined : ts.isObjectLiteralExpression(arg) ? arg : ts.isIdentifier(arg) ? shapes.get(arg.text) : undefined;
      if (literal !== undefined) {
        const fields = fieldsOf(literal, new Map<string, FieldDoc>());
        const signature = [...fields.keys()].sort().join(',');
        const known = out.get(signature);
        // Two objects with the same fields (rare): keep the first comment of each field.
        if (known === undefined) out.set(signature, fields);
        else for (const [k, v] of fields) if (known.get(k)?.text === '' && v.text !== '') known.set(k, v);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return out;
}

/** `z.object(...)`, also when written over two lines (`z\n  .object(...)`). */
function isZodObjectCall(node: ts.Node, source: ts.SourceFile): node is ts.CallExpression {
  return ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'object' && node.expression.expression.getText(source) === 'z';
}

function docOf(node: ts.Node): FieldDoc {
  const docs = (node as { jsDoc?: ts.JSDoc[] }).jsDoc ?? [];
  const last = docs.at(-1);
  if (last === undefined) return { text: '' };
  const text = (ts.getTextOfJSDocComment(last.comment) ?? '').replace(/\s*\n\s*/g, ' ').trim();
  let defaultText: string | undefined;
  let example: string | undefined;
  for (const tag of last.tags ?? []) {
    const value = (ts.getTextOfJSDocComment(tag.comment) ?? '').replace(/\s*\n\s*/g, ' ').trim();
    if (tag.tagName.text === 'default') defaultText = value;
    if (tag.tagName.text === 'example') example = value;
  }
  return { text, ...(defaultText === undefined ? {} : { defaultText }), ...(example === undefined ? {} : { example }) };
}

/** The subset of JSON Schema that `z.toJSONSchema` writes for this config. */
interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  minItems?: number;
  pattern?: string;
  format?: string;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
}

/** One row of a section: a field that holds a value (objects get their own section). */
interface Row {
  readonly field: string;
  readonly type: string;
  readonly required: boolean;
  readonly defaultText: string;
  readonly example: string;
  readonly description: string;
}

/** An object of the config, at a path such as `gateway.limits`. */
interface Section {
  readonly path: string;
  readonly description: string;
  readonly rows: Row[];
}

/** Values of the example configs, by field path (`servers.<name>.command`). */
function exampleValues(): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const visit = (value: unknown, path: string): void => {
    if (!out.has(path)) out.set(path, value);
    if (Array.isArray(value)) {
      for (const item of value) visit(item, `${path}[]`);
    } else if (value !== null && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) visit(v, path === 'servers' || path.endsWith('.env') ? `${path}.<name>` : path === '' ? k : `${path}.${k}`);
    }
  };
  for (const file of EXAMPLE_FILES) visit(parseYaml(readFileSync(join(ROOT, file), 'utf8')), '');
  return out;
}

/** Renders a value as it would be written in YAML, on one line. */
function inline(value: unknown): string {
  const text = typeof value === 'string' ? (/^[\w./:@${}*-][\w ./:@${}*,=-]*$/.test(value) && !/^(true|false|null|\d+)$/.test(value) ? value : JSON.stringify(value)) : JSON.stringify(value);
  return text.length > 70 ? `${text.slice(0, 67)}...` : text;
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text: string): string => (text === '' ? '' : `\`${text.replace(/`/g, "'")}\``);

class Renderer {
  readonly sections: Section[] = [];
  private readonly docs = fieldDocsBySignature();
  private readonly examples = exampleValues();

  constructor(private readonly root: JsonSchema) {}

  private resolve(schema: JsonSchema): JsonSchema {
    if (schema.$ref === undefined) return schema;
    const name = schema.$ref.replace(/^#\/\$defs\//, '');
    const target = this.root.$defs?.[name];
    if (target === undefined) throw new Error(`config-docs: unresolved ${schema.$ref}`);
    return { ...this.resolve(target), ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$ref')) };
  }

  /** The object schema inside `schema`, if it is one (or a nullable/optional one). */
  private objectOf(schema: JsonSchema): JsonSchema | undefined {
    const s = this.resolve(schema);
    if (s.properties !== undefined) return s;
    return undefined;
  }

  /** The variants of a union of objects (a discriminated union such as `auth.store`). */
  private variantsOf(schema: JsonSchema): JsonSchema[] | undefined {
    const s = this.resolve(schema);
    const options = s.oneOf ?? s.anyOf;
    if (options === undefined) return undefined;
    const objects = options.map((o) => this.objectOf(o));
    return objects.every((o): o is JsonSchema => o !== undefined) ? objects : undefined;
  }

  /** The map value schema of a `z.record(...)` of objects. */
  private mapValueOf(schema: JsonSchema): JsonSchema | undefined {
    const s = this.resolve(schema);
    if (s.properties === undefined && typeof s.additionalProperties === 'object') return s.additionalProperties;
    return undefined;
  }

  typeOf(schema: JsonSchema): string {
    const s = this.resolve(schema);
    if (s.const !== undefined) return JSON.stringify(s.const);
    if (s.enum !== undefined) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
    const union = s.anyOf ?? s.oneOf;
    if (union !== undefined) return [...new Set(union.map((u) => this.typeOf(u)))].join(' or ');
    if (s.allOf !== undefined && s.allOf[0] !== undefined) return this.typeOf(s.allOf[0]);
    const type = Array.isArray(s.type) ? s.type.join(' or ') : s.type;
    if (type === 'array') return `list of ${s.items === undefined ? 'values' : this.typeOf(s.items)}`;
    if (type === 'object' || (type === undefined && s.additionalProperties !== undefined)) {
      if (s.properties !== undefined) return 'object';
      return typeof s.additionalProperties === 'object' ? `map of ${this.typeOf(s.additionalProperties)}` : 'object';
    }
    if (type === 'integer' || type === 'number') {
      // zod writes the safe-integer range for .int(); it says nothing to a user.
      const minimum = s.minimum === Number.MIN_SAFE_INTEGER ? undefined : s.minimum;
      const maximum = s.maximum === Number.MAX_SAFE_INTEGER ? undefined : s.maximum;
      const min = minimum ?? (s.exclusiveMinimum === undefined ? undefined : `>${s.exclusiveMinimum}`);
      const bounds = min === undefined && maximum === undefined ? '' : maximum === undefined ? ` (${typeof min === 'number' ? `>=${min}` : min})` : ` (${min ?? ''}..${maximum})`;
      return `${type}${bounds}`;
    }
    if (type === 'string' && s.format !== undefined) return `string (${s.format})`;
    return type ?? 'any';
  }

  /** Describes the object at `path` and, recursively, every object inside it. */
  object(schema: JsonSchema, path: string, description: string): void {
    const s = this.resolve(schema);
    const properties = s.properties ?? {};
    const docs = this.docs.get(Object.keys(properties).sort().join(',')) ?? new Map<string, FieldDoc>();
    const section: Section = { path, description, rows: [] };
    this.sections.push(section);
    const nested: Array<() => void> = [];
    for (const [name, raw] of Object.entries(properties)) {
      const field = this.resolve(raw);
      const doc = docs.get(name) ?? { text: '' };
      const fieldPath = path === '' ? name : `${path}.${name}`;
      const text = field.description ?? doc.text;
      const objectField = this.objectOf(field);
      const mapValue = this.mapValueOf(field);
      const variants = this.variantsOf(field);
      let type = this.typeOf(field);
      if (objectField !== undefined) {
        type = `object, see [${fieldPath}](#${anchor(fieldPath)})`;
        nested.push(() => this.object(objectField, fieldPath, text));
      } else if (mapValue !== undefined && this.objectOf(mapValue) !== undefined) {
        type = `map of name to object, see [${fieldPath}.<name>](#${anchor(`${fieldPath}.<name>`)})`;
        nested.push(() => this.object(mapValue, `${fieldPath}.<name>`, text));
      } else if (variants !== undefined) {
        const tags = variants.map((v, i) => this.variantTag(v, i));
        type = `one of: ${tags.map((t) => `[${t}](#${anchor(`${fieldPath} (${t})`)})`).join(', ')}`;
        variants.forEach((v, i) => nested.push(() => this.object(v, `${fieldPath} (${tags[i]})`, text)));
      } else if (field.items !== undefined && this.objectOf(field.items) !== undefined) {
        const item = this.objectOf(field.items)!;
        type = `list of objects, see [${fieldPath}[]](#${anchor(`${fieldPath}[]`)})`;
        nested.push(() => this.object(item, `${fieldPath}[]`, text));
      }
      const hasDefault = field.default !== undefined;
      // An object's default is its fields' defaults, listed in its section; a map's is written out (`{}`).
      const isObjectDefault = hasDefault && (objectField !== undefined || variants !== undefined);
      const defaultText = hasDefault ? (isObjectDefault ? 'the defaults of its fields' : code(inline(field.default))) : doc.defaultText ?? '';
      const required = (s.required ?? []).includes(name) && !hasDefault;
      section.rows.push({ field: name, type, required, defaultText, example: this.exampleOf(fieldPath, field, doc, objectField !== undefined || variants !== undefined || (mapValue !== undefined && this.objectOf(mapValue) !== undefined)), description: text });
    }
    for (const n of nested) n();
  }

  /** `type: file` for a variant with a literal discriminator, else `variant N`. */
  private variantTag(variant: JsonSchema, index: number): string {
    for (const [k, v] of Object.entries(variant.properties ?? {})) {
      const r = this.resolve(v);
      if (r.const !== undefined) return `${k}: ${String(r.const)}`;
      if (r.enum?.length === 1) return `${k}: ${String(r.enum[0])}`;
    }
    return `variant ${index + 1}`;
  }

  private exampleOf(path: string, field: JsonSchema, doc: FieldDoc, isObject: boolean): string {
    const concretePath = path.replace(/ \([^)]*\)/g, '');
    if (this.examples.has(concretePath) && !isObject) return code(inline(this.examples.get(concretePath)));
    if (doc.example !== undefined) return code(doc.example);
    if (isObject) return '';
    if (field.default !== undefined) return code(inline(field.default));
    const s = this.resolve(field);
    if (s.const !== undefined) return code(inline(s.const));
    if (s.enum !== undefined && s.enum[0] !== undefined) return code(inline(s.enum[0]));
    return '';
  }
}

/** A GitHub-style heading anchor. */
function anchor(heading: string): string {
  return `\`${heading}\``
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');
}

/** docs/CONFIG.md as it should be, from the schema and the examples. */
export function renderConfigDocs(): string {
  const jsonSchema = z.toJSONSchema(FleetConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const renderer = new Renderer(jsonSchema);
  renderer.object(jsonSchema, '', 'A whole mcp-fleet config file (YAML or JSON).');
  const lines = [
    '# Config reference',
    '',
    '<!-- Generated by `npm run docs:config` from the zod schema in src/config/*schema*.ts; do not edit by hand. -->',
    '',
    'Every field of an mcp-fleet config file, generated from the zod schema (the single',
    'source of truth the config is validated with), so it cannot drift from the code.',
    'Every object is strict: a field not listed here is an error that names it. Values',
    'may reference environment variables as `${NAME}` or `${NAME:-default}` (see the',
    '[README](../README.md#configure-a-fleet)). Examples come from',
    `${EXAMPLE_FILES.map((f) => `[\`${f}\`](../${f})`).join(' and ')} where they set the field.`,
    '',
    'Sections:',
    '',
    ...renderer.sections.map((s) => `- [\`${s.path === '' ? '(top level)' : s.path}\`](#${anchor(s.path === '' ? '(top level)' : s.path)})`),
    '',
  ];
  for (const section of renderer.sections) {
    lines.push(`## \`${section.path === '' ? '(top level)' : section.path}\``, '');
    if (section.description !== '') lines.push(section.description, '');
    lines.push('| Field | Type | Default | Example | Description |', '| --- | --- | --- | --- | --- |');
    for (const r of section.rows) {
      lines.push(`| \`${r.field}\`${r.required ? ' (required)' : ''} | ${cell(r.type)} | ${cell(r.defaultText)} | ${cell(r.example)} | ${cell(r.description)} |`);
    }
    lines.push('');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

// `npm run docs:config` (tsx scripts/config-docs.ts) writes the file.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(CONFIG_DOCS_PATH, renderConfigDocs());
  process.stdout.write(`wrote ${relative(process.cwd(), CONFIG_DOCS_PATH)}\n`);
}
