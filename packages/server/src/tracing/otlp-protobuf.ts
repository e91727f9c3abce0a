/**
 * Reads an OTLP ExportTraceServiceRequest in its protobuf form (opentelemetry-proto
 * trace/v1/trace.proto) into the receiver's flat spans: just the fields the tests look at —
 * ids, name, kind, attributes, events, status, the resource's attributes. A small reader of the
 * protobuf wire format (varints, fixed 32/64-bit, length-delimited) rather than a generated
 * decoder: the test receiver needs no schema compiler, and unknown fields are skipped.
 */
import type { ReceivedSpan, SpanAttributes } from "./otlp-receiver.js";

type Field = { no: number; wire: number; varint?: bigint; bytes?: Buffer; fixed?: Buffer };

/** The fields of one message, in order. */
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error("protobuf: truncated varint");
      const byte = buf[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  const take = (n: number): Buffer => {
    if (pos + n > buf.length) throw new Error("protobuf: truncated field");
    const slice = buf.subarray(pos, pos + n);
    pos += n;
    return slice;
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, varint: varint() });
    else if (wire === 1) out.push({ no, wire, fixed: take(8) });
    else if (wire === 2) out.push({ no, wire, bytes: take(Number(varint())) });
    else if (wire === 5) out.push({ no, wire, fixed: take(4) });
    else throw new Error(`protobuf: wire type ${wire} is not read here`);
  }
  return out;
}

const messages = (fs: Field[], no: number): Buffer[] => fs.filter((f) => f.no === no && f.bytes).map((f) => f.bytes!);
const first = (fs: Field[], no: number): Field | undefined => fs.find((f) => f.no === no);
const text = (f: Field | undefined): string => f?.bytes?.toString("utf8") ?? "";
const hex = (f: Field | undefined): string => f?.bytes?.toString("hex") ?? "";

/** AnyValue: string 1, bool 2, int 3, double 4 (arrays, maps and bytes are not read). */
function anyValue(buf: Buffer): string | number | boolean {
  const f = fields(buf)[0];
  if (!f) return "";
  if (f.no === 1) return text(f);
  if (f.no === 2) return f.varint !== 0n;
  if (f.no === 3) return Number(BigInt.asIntN(64, f.varint ?? 0n));
  if (f.no === 4) return f.fixed!.readDoubleLE(0);
  return "";
}

/** repeated KeyValue { key 1, value 2 } */
function keyValues(list: Buffer[]): SpanAttributes {
  const out: SpanAttributes = {};
  for (const kv of list) {
    const fs = fields(kv);
    const value = first(fs, 2)?.bytes;
    out[text(first(fs, 1))] = value ? anyValue(value) : "";
  }
  return out;
}

export function spansOfProtobufExport(body: Buffer): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of messages(fields(body), 1)) {
    const rsFields = fields(rs);
    const resourceBuf = messages(rsFields, 1)[0];
    const resource = resourceBuf ? keyValues(messages(fields(resourceBuf), 1)) : {};
    for (const ss of messages(rsFields, 2)) {
      for (const spanBuf of messages(fields(ss), 2)) {
        const s = fields(spanBuf);
        const statusBuf = messages(s, 15)[0];
        out.push({
          traceId: hex(first(s, 1)),
          spanId: hex(first(s, 2)),
          parentSpanId: hex(first(s, 4)),
          name: text(first(s, 5)),
          kind: Number(first(s, 6)?.varint ?? 0n),
          attributes: keyValues(messages(s, 9)),
          events: messages(s, 11).map((e) => {
            const ef = fields(e);
            return { name: text(first(ef, 2)), attributes: keyValues(messages(ef, 3)) };
          }),
          status: statusBuf ? Number(first(fields(statusBuf), 3)?.varint ?? 0n) : 0,
          resource,
        });
      }
    }
  }
  return out;
}
