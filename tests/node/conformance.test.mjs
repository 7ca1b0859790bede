// Conformance vectors replayed in Node on the nodejs build: each body must
// equal the expected bytes and each decision the expected value.
import { test } from "node:test";

import { Engine } from "./engine.mjs";
import { replay } from "./lib/replay.mjs";
import { check, loadVectors } from "./lib/vectors.mjs";

const engine = new Engine();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

for (const { name, vector, record } of loadVectors()) {
  test(name, { timeout: 30_000 }, () => {
    // Bytes in, as an edge worker would pass a response body.
    check("node", name, vector.expected, replay(engine, vector, record));
    // Text in, with the viewer and consent as JSON text: the same answer.
    const asText = {
      ...vector,
      viewer: JSON.stringify(vector.viewer),
      consent: vector.consent === null ? null : JSON.stringify(vector.consent),
    };
    check("node (text inputs)", name, vector.expected, replay(engine, asText, decoder.decode(record)));
  });
}
