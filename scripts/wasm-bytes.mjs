// The parts of the WebAssembly binary format that scripts/preinit.mjs
// rewrites and its test assembles: LEB128 numbers, sections, and a reader
// for the few kinds of entry it inspects. Throws on anything truncated or
// not understood.

export class Reader {
  constructor(bytes, pos = 0) {
    this.bytes = bytes;
    this.pos = pos;
  }
  u8() {
    if (this.pos >= this.bytes.length) throw new Error("truncated module");
    return this.bytes[this.pos++];
  }
  uleb() {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.u8();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) return Number(result);
    }
  }
  sleb() {
    let result = 0n;
    let shift = 0n;
    let b;
    do {
      b = this.u8();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
    } while (b & 0x80);
    if (b & 0x40) result -= 1n << shift;
    return result;
  }
  skip(n) {
    this.pos += n;
  }
  name() {
    const n = this.uleb();
    const s = Buffer.from(this.bytes.subarray(this.pos, this.pos + n)).toString("utf8");
    this.pos += n;
    return s;
  }
  // A value type: a number type, a short ref type, or (ref null? heaptype).
  valtype() {
    const t = this.u8();
    if (t === 0x63 || t === 0x64) this.sleb();
    return t;
  }
  limits() {
    const flags = this.u8();
    const min = this.uleb();
    const max = flags & 1 ? this.uleb() : null;
    return { flags, min, max };
  }
  // A constant expression, up to and including its `end`.
  constExpr() {
    for (;;) {
      const op = this.u8();
      if (op === 0x0b) return;
      if (op === 0x41 || op === 0x42) this.sleb();
      else if (op === 0x43) this.skip(4);
      else if (op === 0x44) this.skip(8);
      else if (op === 0x23 || op === 0xd2) this.uleb();
      else if (op === 0xd0) this.sleb();
      else if (op === 0x6a || op === 0x6b || op === 0x6c || op === 0x7c || op === 0x7d || op === 0x7e) continue;
      else throw new Error(`unsupported opcode 0x${op.toString(16)} in a constant expression`);
    }
  }
}

export function uleb(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return out;
}

export function sleb(n) {
  const out = [];
  let v = BigInt(n);
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

export const vec = (items) => [...uleb(items.length), ...items.flat()];
export const nameBytes = (s) => {
  const b = [...Buffer.from(s, "utf8")];
  return [...uleb(b.length), ...b];
};

export function sections(bytes) {
  if (bytes.readUInt32LE(0) !== 0x6d736100 || bytes.readUInt32LE(4) !== 1) throw new Error("not a wasm module");
  const out = [];
  const r = new Reader(bytes, 8);
  while (r.pos < bytes.length) {
    const start = r.pos;
    const id = r.u8();
    const size = r.uleb();
    const body = r.pos;
    r.skip(size);
    const s = { id, start, body, end: r.pos };
    if (id === 0) s.name = new Reader(bytes, body).name();
    out.push(s);
  }
  return out;
}

export function section(id, payload) {
  return Buffer.from([id, ...uleb(payload.length), ...payload]);
}
