// Prints the demo URLs and users before `wrangler dev` starts.
import { readdirSync, readFileSync } from "node:fs";

const viewers = new URL("../../crates/demo/data/viewers/", import.meta.url);
const citizens = new URL("../../crates/demo/data/citizens/", import.meta.url);
const base = "http://127.0.0.1:8787";
console.log(`\ntiergate edge worker (demo): ${base}/`);
console.log(`  practitioner portal  ${base}/practitioner/`);
console.log(`  patient portal       ${base}/patient/`);
console.log(`  privacy officer      ${base}/privacy/  (sign in as privacy-officer)`);
console.log(`  API login page       ${base}/demo/login\n`);
console.log("Practitioners (sign in on a portal, or POST /demo/token {\"user\": KEY}):");
for (const file of readdirSync(viewers).sort()) {
  if (file.includes("break-glass")) continue; // break glass is stated per request
  if (JSON.parse(readFileSync(new URL(file, viewers), "utf8")).profile === "patient") continue; // people, below
  const v = JSON.parse(readFileSync(new URL(file, viewers), "utf8"));
  console.log(`  ${file.replace(/\.json$/, "").padEnd(32)} profile ${v.profile.padEnd(3)} ${v.organisation.padEnd(7)} ${v.name}`);
}
console.log("\nPeople (patient portal):");
for (const file of readdirSync(citizens).sort()) {
  const v = JSON.parse(readFileSync(new URL(file, citizens), "utf8"));
  const what = v.patient ? `own record ${v.patient}` : "acts for someone under a grant";
  console.log(`  ${file.replace(/\.json$/, "").padEnd(32)} ${v.name.padEnd(18)} ${what}`);
}
console.log("\nAPI: GET /fhir/Patient/{id}/$everything, /fhir/{type}?patient={id}, /fhir/{type}/{id},");
console.log("     /fhir/Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018, /consent/Patient/{id}, /me\n");
