import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An in-process OTLP/HTTP receiver for tests: it accepts `POST /v1/traces` and
 * `/v1/metrics` in protobuf (what the gateway exports by default) and decodes the
 * parts tests assert on. The SDK ships serializers but no decoder, so this reads
 * the protobuf wire format itself, by the field numbers of opentelemetry-proto
 * (`trace/v1/trace.proto`, `metrics/v1/metrics.proto`, `common/v1/common.proto`).
 */

/** A decoded attribute value. */
export type AttributeValue = string | number | boolean | bigint | undefined;

/** A decoded span. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly traceState: string;
  readonly name: string;
  /** 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly resource: Readonly<Record<string, AttributeValue>>;
}

/** A decoded histogram data point. */
export interface ReceivedPoint {
  readonly metric: string;
  readonly unit: string;
  readonly count: bigint;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

/** Span kinds as OTLP numbers them. */
export const SpanKindNumber = { server: 2, client: 3 } as const;

type Field = { readonly wire: number; readonly value: bigint | Buffer };

/** Reads a message into its fields, in order. */
function fields(buffer: Buffer): Map<number, Field[]> {
  const out = new Map<number, Field[]>();
  let offset = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buffer[offset++];
      if (byte === undefined) throw new Error('truncated protobuf varint');
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (offset < buffer.length) {
    const key = Number(varint());
    const number = key >>> 3;
    const wire = key & 7;
    let value: bigint | Buffer;
    if (wire === 0) value = varint();
    else if (wire === 1) {
      value = buffer.subarray(offset, offset + 8);
      offset += 8;
    } else if (wire === 2) {
      const length = Number(varint());
      value = buffer.subarray(offset, offset + length);
      offset += length;
    } else if (wire === 5) {
      value = buffer.subarray(offset, offset + 4);
      offset += 4;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    const list = out.get(number) ?? [];
    list.push({ wire, value });
    out.set(number, list);
  }
  return out;
}

const bytesOf = (f: Map<number, Field[]>, n: number): Buffer[] => (f.get(n) ?? []).map((x) => x.value as Buffer);
const oneBytes = (f: Map<number, Field[]>, n: number): Buffer => bytesOf(f, n)[0] ?? Buffer.alloc(0);
const text = (f: Map<number, Field[]>, n: number): string => oneBytes(f, n).toString('utf8');
const int = (f: Map<number, Field[]>, n: number): bigint => {
  const v = f.get(n)?.[0]?.value;
  if (v === undefined) return 0n;
  return typeof v === 'bigint' ? v : v.readBigUInt64LE(0);
};

/** `AnyValue`: string 1, bool 2, int 3, double 4. */
function anyValue(buffer: Buffer): AttributeValue {
  const f = fields(buffer);
  if (f.has(1)) return text(f, 1);
  if (f.has(2)) return int(f, 2) === 1n;
  if (f.has(3)) return Number(BigInt.asIntN(64, int(f, 3)));
  if (f.has(4)) return oneBytes(f, 4).readDoubleLE(0);
  return undefined;
}

/** Repeated `KeyValue` (key 1, value 2) at field `n`. */
function attributesAt(f: Map<number, Field[]>, n: number): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of bytesOf(f, n)) {
    const k = fields(kv);
    out[text(k, 1)] = anyValue(oneBytes(k, 2));
  }
  return out;
}

/** Decodes an `ExportTraceServiceRequest`. */
export function decodeSpans(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const rs of bytesOf(fields(body), 1)) {
    const resourceSpans = fields(rs);
    const resource = attributesAt(fields(oneBytes(resourceSpans, 1)), 1);
    for (const ss of bytesOf(resourceSpans, 2)) {
      for (const s of bytesOf(fields(ss), 2)) {
        const span = fields(s);
        spans.push({
          traceId: oneBytes(span, 1).toString('hex'),
          spanId: oneBytes(span, 2).toString('hex'),
          traceState: text(span, 3),
          parentSpanId: oneBytes(span, 4).toString('hex'),
          name: text(span, 5),
          kind: Number(int(span, 6)),
          attributes: attributesAt(span, 9),
          statusCode: Number(int(fields(oneBytes(span, 15)), 3)),
          resource,
        });
      }
    }
  }
  return spans;
}

/** Decodes the histogram points of an `ExportMetricsServiceRequest`. */
export function decodeHistogramPoints(body: Buffer): ReceivedPoint[] {
  const points: ReceivedPoint[] = [];
  for (const rm of bytesOf(fields(body), 1)) {
    for (const sm of bytesOf(fields(rm), 2)) {
      for (const m of bytesOf(fields(sm), 2)) {
        const metric = fields(m);
        // Histogram is field 9 of Metric; its data points field 1.
        for (const h of bytesOf(metric, 9)) {
          for (const p of bytesOf(fields(h), 1)) {
            const point = fields(p);
            points.push({ metric: text(metric, 1), unit: text(metric, 3), count: int(point, 4), attributes: attributesAt(point, 9) });
          }
        }
      }
    }
  }
  return points;
}

/** A receiver listening on 127.0.0.1. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: the base URL to give as `telemetry.endpoint`. */
  readonly url: string;
  /** Spans received so far. */
  readonly spans: ReceivedSpan[];
  /** Histogram points received so far. */
  readonly points: ReceivedPoint[];
  /** Content types of the exports received (the wire format actually used). */
  readonly contentTypes: Set<string>;
  /** Headers of the last export (to check configured headers arrive). */
  readonly lastHeaders: Readonly<Record<string, string | string[] | undefined>>;
  close(): Promise<void>;
}

/** Starts a receiver on a free 127.0.0.1 port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const receiver: { spans: ReceivedSpan[]; points: ReceivedPoint[]; contentTypes: Set<string>; lastHeaders: OtlpReceiver['lastHeaders'] } = { spans: [], points: [], contentTypes: new Set(), lastHeaders: {} };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      receiver.contentTypes.add(request.headers['content-type'] ?? '');
      receiver.lastHeaders = request.headers;
      try {
        if (request.url === '/v1/traces') receiver.spans.push(...decodeSpans(body));
        else if (request.url === '/v1/metrics') receiver.points.push(...decodeHistogramPoints(body));
        else {
          response.writeHead(404).end();
          return;
        }
      } catch (error) {
        response.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
        return;
      }
      // An empty Export*ServiceResponse is zero bytes of protobuf.
      response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    spans: receiver.spans,
    points: receiver.points,
    contentTypes: receiver.contentTypes,
    get lastHeaders() {
      return receiver.lastHeaders;
    },
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
