// The GraphQL-over-HTTP conformance audit (graphql-http's auditServer) against a gateway's /graphql.
//
//   node audit.mjs URL [--strict]
//
// Prints each audit that did not pass with its reason, then the counts. Exits 1 when a MUST audit
// fails (status "error"); with --strict also when a SHOULD audit warns.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL [--strict]');
  process.exit(2);
}
const strict = process.argv.includes('--strict');

const results = await auditServer({ url });
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const r of results) {
  counts[r.status]++;
  if (r.status !== 'ok') {
    console.log(`${r.status.toUpperCase().padEnd(6)} ${r.name}\n       ${r.reason}`);
  }
}
console.log(`graphql-http ${results.length} audits against ${url}: ` +
  `${counts.ok} pass, ${counts.notice} notice, ${counts.warn} warn, ${counts.error} fail`);
process.exit(counts.error > 0 || (strict && counts.warn > 0) ? 1 : 0);
