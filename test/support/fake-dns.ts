/**
 * A DNS server on loopback for interop tests, so a third-party server finds our test domains
 * without any query leaving the machine: it answers SRV (`_xmpp-server._tcp.<domain>`) and A
 * records from a table, NXDOMAIN for everything else (RFC 1035 §4 messages, RFC 2782 SRV), and
 * records every question. Just enough for a stub resolver (Erlang's inet_res); no EDNS, no TCP.
 */
import dgram from "node:dgram";

export interface FakeDnsRecords {
  /** name → SRV target and port */
  srv: Record<string, { target: string; port: number }>;
  /** name → IPv4 address */
  a: Record<string, string>;
}

const TYPE_A = 1;
const TYPE_SRV = 33;

export class FakeDns {
  /** every question asked, as "name type" */
  readonly asked: string[] = [];
  /** filled in by the test, also after start() */
  readonly records: FakeDnsRecords = { srv: {}, a: {} };

  private constructor(
    private readonly socket: dgram.Socket,
    readonly port: number,
  ) {}

  static async start(): Promise<FakeDns> {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    const dns = new FakeDns(socket, socket.address().port);
    socket.on("message", (msg, peer) => {
      const reply = dns.answer(msg);
      if (reply) socket.send(reply, peer.port, peer.address);
    });
    return dns;
  }

  private answer(query: Buffer): Buffer | undefined {
    if (query.length < 17) return undefined;
    let offset = 12;
    const labels: string[] = [];
    while (offset < query.length && query[offset] !== 0) {
      const len = query[offset]!;
      labels.push(query.subarray(offset + 1, offset + 1 + len).toString("ascii"));
      offset += len + 1;
    }
    offset++;
    if (offset + 4 > query.length) return undefined;
    const qtype = query.readUInt16BE(offset);
    const question = query.subarray(12, offset + 4);
    const name = labels.join(".").toLowerCase();
    this.asked.push(`${name} ${qtype}`);
    const srv = this.records.srv[name];
    const a = this.records.a[name];
    const answers: Buffer[] = [];
    if (qtype === TYPE_SRV && srv) {
      const target = encodeName(srv.target);
      const rdata = Buffer.alloc(6 + target.length);
      rdata.writeUInt16BE(0, 0); // priority
      rdata.writeUInt16BE(0, 2); // weight
      rdata.writeUInt16BE(srv.port, 4);
      target.copy(rdata, 6);
      answers.push(record(TYPE_SRV, rdata));
    }
    if (qtype === TYPE_A && a) answers.push(record(TYPE_A, Buffer.from(a.split(".").map(Number))));
    const known = srv !== undefined || a !== undefined;
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2); // the query's id
    // QR, AA, RD as asked, RA; NXDOMAIN (3) for a name not in the table
    header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (known ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    return Buffer.concat([header, question, ...answers]);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, "").split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "ascii")]));
  return Buffer.concat([...labels, Buffer.from([0])]);
}

/** one answer for the question's name (a compression pointer to offset 12) */
function record(type: number, rdata: Buffer): Buffer {
  const rr = Buffer.alloc(12);
  rr.writeUInt16BE(0xc00c, 0);
  rr.writeUInt16BE(type, 2);
  rr.writeUInt16BE(1, 4); // IN
  rr.writeUInt32BE(5, 6); // TTL
  rr.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([rr, rdata]);
}
