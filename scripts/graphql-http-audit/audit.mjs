// GraphQL-over-HTTP compliance audit: runs every audit of graphql-http's
// serverAudits (the suite servers are measured by) against one endpoint.
//
//   node audit.mjs http://127.0.0.1:8080/graphql
//
// Prints one line per audit, `status  ID  name  (reason)`, then the counts per
// requirement level and, last, a plain `N passed, M failed` over MUST and
// SHOULD audits only. Exit status: 0 when every MUST and SHOULD audit is ok
// (graphql-http reports a failed SHOULD as "warn"; here that is a failure),
// 1 when any is not, 2 on bad usage or when an audit could not run at all
// (network failure, timeout). Failed MAY audits (graphql-http's "notice")
// are listed but allowed.
//
// The audits only send `{ __typename }`, `__type(name: …)` introspection,
// malformed requests and `mutation { __typename }` over GET: no data is read
// or written, so the server needs no particular database state.
import { serverAudits } from 'graphql-http';

const LEVELS = ['MUST', 'SHOULD', 'MAY'];
const REQUEST_TIMEOUT_MS = 10_000;
const BODY_PREVIEW_CHARS = 160;

// A closed pipe (`| head`) ends the output quietly.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 2);
  throw err;
});

const url = process.argv[2];
if (!url || process.argv.length > 3) {
  console.error('usage: node audit.mjs <graphql endpoint URL>');
  process.exit(2);
}
try {
  new URL(url);
} catch {
  console.error(`audit.mjs: not a URL: ${url}`);
  process.exit(2);
}

// Every request gets a deadline, so a hung server fails the audit instead
// of hanging it.
const fetchFn = (input, init = {}) =>
  fetch(input, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });

const levelOf = (name) => {
  const level = name.split(' ', 1)[0];
  if (!LEVELS.includes(level)) throw new Error(`audit name without a requirement level: ${name}`);
  return level;
};

// What the server actually answered, to make a failure's reason actionable.
async function describe(response) {
  if (!response) return '';
  const parts = [`got ${response.status}`];
  const type = response.headers.get('content-type');
  parts.push(type ? type : 'no content-type');
  if (!response.bodyUsed) {
    try {
      let body = (await response.text()).replace(/\s+/g, ' ').trim();
      if (body.length > BODY_PREVIEW_CHARS) body = body.slice(0, BODY_PREVIEW_CHARS) + '…';
      if (body) parts.push(body);
    } catch {
      // the body is only a hint
    }
  }
  return parts.join(', ');
}

const counts = Object.fromEntries(LEVELS.map((l) => [l, { passed: 0, failed: 0 }]));
const failed = Object.fromEntries(LEVELS.map((l) => [l, []]));
let fatal = 0;

// One at a time, in the suite's order: the output is stable and the server
// is never flooded.
for (const { id, name, fn } of serverAudits({ url, fetchFn })) {
  const level = levelOf(name);
  let status;
  let reason = '';
  try {
    const result = await fn();
    status = result.status;
    if (status !== 'ok') {
      const got = await describe(result.response);
      reason = got ? `${result.reason}; ${got}` : result.reason;
    }
  } catch (err) {
    // graphql-http throws only when the audit could not run at all.
    fatal++;
    status = 'error';
    reason = `audit could not run: ${err?.cause?.message ?? err?.message ?? err}`;
  }
  if (status === 'ok') {
    counts[level].passed++;
  } else {
    counts[level].failed++;
    failed[level].push(id);
  }
  console.log(`${status.padEnd(6)} ${id}  ${name}${reason ? `  (${reason})` : ''}`);
}

console.log('');
for (const level of LEVELS) {
  if (failed[level].length > 0) {
    const note = level === 'MAY' ? ' (allowed)' : '';
    console.log(`failed ${level}${note}: ${failed[level].join(' ')}`);
  }
}
if (fatal > 0) console.log(`${fatal} audit(s) could not run`);
console.log(LEVELS.map((l) => `${l}: ${counts[l].passed} passed, ${counts[l].failed} failed`).join('; '));

const passed = counts.MUST.passed + counts.SHOULD.passed;
const failedRequired = counts.MUST.failed + counts.SHOULD.failed;
console.log(`${passed} passed, ${failedRequired} failed`);

process.exitCode = fatal > 0 ? 2 : failedRequired > 0 ? 1 : 0;
