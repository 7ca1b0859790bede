// Prints the demo URL and users before `wrangler dev` starts.
import { readdirSync, readFileSync } from "node:fs";

const dir = new URL("../../crates/cli/demo/viewers/", import.meta.url);
console.log("\ntiergate edge worker (demo): http://127.0.0.1:8787/demo/login\n");
console.log("Demo users (sign in on the login page, or POST /demo/token {\"user\": KEY}):");
for (const file of readdirSync(dir).sort()) {
  if (file.includes("break-glass")) continue; // break glass is stated per request
  const v = JSON.parse(readFileSync(new URL(file, dir), "utf8"));
  console.log(`  ${file.replace(/\.json$/, "").padEnd(32)} profile ${v.profile.padEnd(3)} ${v.organisation.padEnd(7)} ${v.name}`);
}
console.log("\nAPI: GET /fhir/Patient/{id}/$everything, /fhir/{type}?patient={id}, /fhir/{type}/{id},");
console.log("     /fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018, /consent/Patient/{id}\n");
