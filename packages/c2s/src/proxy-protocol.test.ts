import net from "node:net";
import { describe, expect, it } from "vitest";
import { ProxyHeaderError, parseProxyHeader, readProxyHeader } from "./proxy-protocol.js";

const STREAM = "<?xml version='1.0'?><stream:stream to='localhost'>";

function v2(command: number, family: number, body: Buffer): Buffer {
  const head = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x20 | command, family, 0, 0]);
  head.writeUInt16BE(body.length, 14);
  return Buffer.concat([head, body]);
}

function ipv4Block(src: number[], dst: number[], sport: number, dport: number, extra = Buffer.alloc(0)): Buffer {
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sport, 0);
  ports.writeUInt16BE(dport, 2);
  return Buffer.concat([Buffer.from(src), Buffer.from(dst), ports, extra]);
}

describe("PROXY protocol header", () => {
  it("v1: takes the source address of TCP4 and TCP6 lines and says where the stream starts", () => {
    const line = "PROXY TCP4 203.0.113.7 10.0.0.1 56324 5222\r\n";
    expect(parseProxyHeader(Buffer.from(line + STREAM))).toEqual({ done: true, address: "203.0.113.7", headerBytes: line.length });
    const six = "PROXY TCP6 2001:DB8::7 2001:db8::1 56324 5222\r\n";
    expect(parseProxyHeader(Buffer.from(six))).toEqual({ done: true, address: "2001:db8::7", headerBytes: six.length });
    expect(parseProxyHeader(Buffer.from("PROXY UNKNOWN\r\n"))).toEqual({ done: true, address: undefined, headerBytes: 15 });
  });

  it("waits for more bytes while the header is incomplete", () => {
    for (const partial of ["P", "PROXY", "PROXY TCP4 203.0.113.7 10.0.0.1 563", "\r\n\r\n\0\r\nQU"]) {
      expect(parseProxyHeader(Buffer.from(partial, "latin1"))).toEqual({ done: false });
    }
    const whole = v2(1, 0x11, ipv4Block([198, 51, 100, 9], [10, 0, 0, 1], 40000, 5222));
    expect(parseProxyHeader(whole.subarray(0, 20))).toEqual({ done: false });
  });

  it("v2: PROXY over IPv4 and IPv6 (TLVs skipped), LOCAL keeps the socket's address", () => {
    const tlv = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32]); // ALPN "h2"
    const four = v2(1, 0x11, ipv4Block([198, 51, 100, 9], [10, 0, 0, 1], 40000, 5222, tlv));
    expect(parseProxyHeader(Buffer.concat([four, Buffer.from(STREAM)]))).toEqual({ done: true, address: "198.51.100.9", headerBytes: four.length });
    const src = Buffer.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07]);
    const six = v2(1, 0x21, Buffer.concat([src, Buffer.alloc(16), Buffer.alloc(4)]));
    expect(parseProxyHeader(six)).toEqual({ done: true, address: "2001:db8::7", headerBytes: six.length });
    const local = v2(0, 0x00, Buffer.alloc(0));
    expect(parseProxyHeader(local)).toEqual({ done: true, address: undefined, headerBytes: 16 });
  });

  it("refuses anything else with a clear reason", () => {
    const bad: Array<[string | Buffer, RegExp]> = [
      [STREAM, /did not start with a PROXY protocol header/],
      ["\x16\x03\x01\x02\x00", /did not start with a PROXY protocol header/], // a TLS ClientHello
      ["PROXY TCP4 999.0.0.1 10.0.0.1 1 2\r\n", /malformed TCP4 address/],
      ["PROXY TCP4 203.0.113.7 10.0.0.1 70000 2\r\n", /malformed port/],
      ["PROXY UDP4 203.0.113.7 10.0.0.1 1 2\r\n", /malformed PROXY v1 line/],
      [`PROXY TCP4 ${"1".repeat(120)}`, /longer than 107 bytes/],
      [v2(1, 0x11, Buffer.alloc(4)), /IPv4 block too short/],
      [Buffer.concat([v2(1, 0x11, Buffer.alloc(12)).subarray(0, 12), Buffer.from([0x11, 0x11, 0, 12])]), /unsupported PROXY protocol version/],
      [v2(5, 0x11, Buffer.alloc(12)), /unknown PROXY v2 command/],
    ];
    for (const [input, reason] of bad) {
      const buf = typeof input === "string" ? Buffer.from(input, "latin1") : input;
      expect(() => parseProxyHeader(buf), String(input)).toThrow(ProxyHeaderError);
      expect(() => parseProxyHeader(buf)).toThrow(reason);
    }
  });

  it("answers random bytes, whole or cut anywhere, only with 'need more' or a ProxyHeaderError", () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const valid = [
      Buffer.from("PROXY TCP4 203.0.113.7 10.0.0.1 56324 5222\r\n"),
      v2(1, 0x11, ipv4Block([198, 51, 100, 9], [10, 0, 0, 1], 40000, 5222)),
    ];
    for (let i = 0; i < 5000; i++) {
      const base = valid[i % 2]!;
      const bytes = Buffer.from(base);
      // flip a few bytes of a valid header, or use pure noise
      if (i % 3 === 0) for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rand() * 256);
      else for (let k = 0; k < 3; k++) bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
      const cut = bytes.subarray(0, Math.floor(rand() * (bytes.length + 1)));
      try {
        const r = parseProxyHeader(cut);
        if (r.done) expect(r.headerBytes).toBeLessThanOrEqual(cut.length);
      } catch (err) {
        expect(err).toBeInstanceOf(ProxyHeaderError);
      }
    }
  });

  it("reads the header off a real socket in pieces and leaves the stream bytes after it readable", async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((r) => server.once("connection", r));
    const client = net.connect(port, "127.0.0.1");
    const socket = await accepted;
    const header = readProxyHeader(socket, 2_000);
    client.write("PROXY TCP4 203.0.1");
    await new Promise((r) => setTimeout(r, 20));
    client.write(`13.7 10.0.0.1 56324 5222\r\n${STREAM}`);
    expect(await header).toBe("203.0.113.7");
    let rest = "";
    socket.on("data", (d: Buffer) => (rest += d.toString()));
    socket.resume();
    await expect.poll(() => rest).toBe(STREAM);

    // no header at all within the time allowed
    const second = new Promise<net.Socket>((r) => server.once("connection", r));
    const silent = net.connect(port, "127.0.0.1");
    await expect(readProxyHeader(await second, 100)).rejects.toThrow(/no PROXY header within 100 ms/);
    client.destroy();
    silent.destroy();
    server.close();
  });
});
