// Errors never quote input: values full of quotes, backslashes and
// backticks go in, one scalar at a time, and whatever comes back holds no
// run of four characters of the value beyond what comes back for a value
// of plain `z`s in the same place (the names and words of the message
// itself). Shared by the wasm (tests/node) and edge (tests/worker) suites;
// crates/cli/tests/no_echo.rs asks the same of the command line.

/** Values that break naive quoting, and the example of the report. */
export const HOSTILE = [
  'HIV\\" positive on 3 May',
  'Qx"Zw\\"Vk\\\\Jb`Yq',
  '`Kq\\`Wz\\\\` "Xj" \\\\',
  '\\"\\\\\\"Tqx\\u0060Zw',
  "Zq'Xv“Wb”Jk`",
  '} ", "kind": "Wqz\\"Xk',
];

/** JSON pointers of every scalar of `value`. */
export function scalars(value, at = "", out = []) {
  if (Array.isArray(value)) value.forEach((v, i) => scalars(v, `${at}/${i}`, out));
  else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) scalars(v, `${at}/${k.replaceAll("~", "~0").replaceAll("/", "~1")}`, out);
  else if (value !== null) out.push(at);
  return out;
}

/** A deep copy of `doc` with the value at `pointer` replaced. */
export function replaced(doc, pointer, value) {
  const copy = structuredClone(doc);
  const keys = pointer.split("/").slice(1).map((k) => k.replaceAll("~1", "/").replaceAll("~0", "~"));
  let at = copy;
  for (const k of keys.slice(0, -1)) at = at[k];
  at[keys.at(-1)] = value;
  return copy;
}

/** The runs of four characters of `value` in `output` and not in `baseline`. */
export function echoed(value, output, baseline) {
  const chars = [...value];
  const out = [];
  for (let i = 0; i + 4 <= chars.length; i += 1) {
    const w = chars.slice(i, i + 4).join("");
    if (output.includes(w) && !baseline.includes(w)) out.push(w);
  }
  return out;
}

/**
 * For every scalar of `doc` and every hostile value: when `answer(doc)` (a
 * string: what a caller sees) is a refusal (`isRefusal`), it holds nothing
 * of the value. (What is accepted may be given back, as a stored consent
 * or plan is.) Returns how many answers were refusals.
 */
export async function checkEveryValue(label, doc, answer, isRefusal = () => true, values = HOSTILE) {
  let refused = 0;
  for (const pointer of scalars(doc)) {
    for (const value of values) {
      const baseline = await answer(replaced(doc, pointer, "z".repeat([...value].length)));
      const out = await answer(replaced(doc, pointer, value));
      if (!isRefusal(out)) continue;
      refused += 1;
      const found = echoed(value, out, baseline);
      if (found.length) throw new Error(`${label} ${pointer} = ${JSON.stringify(value)}: ${JSON.stringify(found)} in ${JSON.stringify(out)}`);
    }
  }
  return refused;
}
