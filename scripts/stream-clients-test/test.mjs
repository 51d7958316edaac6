// Real clients against a running coursehub server over HTTP streams: the
// graphql-sse client (createClient, as urql's subscriptionExchange uses it,
// in distinct and single connection mode) and Apollo Client's HttpLink
// (multipart subscriptions).
//
//   node test.mjs http://127.0.0.1:8080/graphql admin@example.com admin-password
//
// Prints one line per check and `N passed, M failed`; exits non-zero if any
// check failed.
import assert from 'node:assert/strict';
import { ApolloClient, HttpLink, InMemoryCache, gql as apolloGql } from '@apollo/client';
import { createClient } from 'graphql-sse';

const [url, adminEmail, adminPassword] = process.argv.slice(2);
if (!url || !adminEmail || !adminPassword) {
  console.error('usage: node test.mjs <api url> <admin email> <admin password>');
  process.exit(2);
}

async function gql(query, variables, token) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (body.errors) throw new Error(`${query}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const login = (email, password) =>
  gql('mutation($in: LoginInput!) { login(input: $in) { accessToken user { id } } }', { in: { email, password } }).then(
    (d) => d.login,
  );
const createCourse = (token, title) =>
  gql('mutation($in: CreateCourseInput!) { createCourse(input: $in) { id title } }',
    { in: { title, description: 'from the graphql-sse client test', price: 1500, published: true } }, token).then(
    (d) => d.createCourse,
  );

// sseClient is what an app would create: headers read lazily, so a
// refreshed token is used by the next subscription; no retries here, so a
// refusal shows at once.
const sseClient = (token, singleConnection = false) =>
  createClient({
    url,
    singleConnection,
    retryAttempts: 0,
    headers: () => (token ? { Authorization: `Bearer ${token}` } : {}),
  });

// collect subscribes and resolves with the results and how the stream
// ended ('complete' or the error), after until() says so or the stream ends.
function collect(client, query, until = () => false, timeoutMs = 10_000) {
  const results = [];
  let dispose;
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => { dispose(); reject(new Error(`no end within ${timeoutMs} ms; got ${JSON.stringify(results)}`)); }, timeoutMs);
    const finish = (how) => { clearTimeout(timer); resolve({ results, how }); };
    dispose = client.subscribe({ query }, {
      next: (r) => { results.push(r); if (until(results)) { dispose(); finish('disposed'); } },
      error: (e) => finish(e),
      complete: () => finish('complete'),
    });
  });
  return { done, dispose: () => dispose() };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const checks = [];
const check = (name, fn) => checks.push({ name, fn });

check('an anonymous coursePublished subscriber gets the event of a course published meanwhile', async () => {
  const admin = await login(adminEmail, adminPassword);
  const title = `SSE client ${Date.now()}`;
  const sub = collect(sseClient(), 'subscription { coursePublished { id title published } }',
    (rs) => rs.some((r) => r.data?.coursePublished?.title === title));
  await sleep(300); // the client connects lazily
  const course = await createCourse(admin.accessToken, title);
  const { results, how } = await sub.done;
  assert.equal(how, 'disposed');
  const event = results.find((r) => r.data?.coursePublished?.title === title);
  assert.deepEqual(event.data.coursePublished, { id: course.id, title, published: true });
  assert.equal(event.errors, undefined);
});

check('a USER subscribing to purchaseMade gets FORBIDDEN and the subscription completes', async () => {
  const email = `sse-client-${Date.now()}@example.com`;
  const signup = await gql('mutation($in: SignupInput!) { signup(input: $in) { accessToken } }',
    { in: { email, password: 'sse-client-password-1', name: 'SSE client' } });
  const { results, how } = await collect(sseClient(signup.signup.accessToken), 'subscription { purchaseMade { id } }').done;
  assert.equal(how, 'complete');
  assert.equal(results.length, 1, JSON.stringify(results));
  assert.equal(results[0].data, null);
  assert.equal(results[0].errors[0].extensions.code, 'FORBIDDEN');
});

check("an admin's purchaseMade stream ends with UNAUTHENTICATED when the session logs out", async () => {
  const admin = await login(adminEmail, adminPassword);
  const sub = collect(sseClient(admin.accessToken), 'subscription { purchaseMade { id } }');
  await sleep(300);
  const loggedOut = Date.now();
  await gql('mutation { logout }', {}, admin.accessToken);
  const { results, how } = await sub.done;
  const took = Date.now() - loggedOut;
  assert.equal(how, 'complete');
  assert.equal(results.at(-1).errors[0].extensions.code, 'UNAUTHENTICATED');
  assert.ok(took < 1000, `ended ${took} ms after the logout`);
});

check('a query over SSE answers once and completes', async () => {
  const { results, how } = await collect(sseClient(), '{ courses(first: 1) { totalCount } }').done;
  assert.equal(how, 'complete');
  assert.equal(results.length, 1);
  assert.equal(typeof results[0].data.courses.totalCount, 'number');
});

check('single connection mode: two subscriptions on one stream, each its own events and refusal', async () => {
  const admin = await login(adminEmail, adminPassword);
  const client = sseClient(admin.accessToken, true);
  const title = `SSE single ${Date.now()}`;
  const published = collect(client, 'subscription { coursePublished { id title } }',
    (rs) => rs.some((r) => r.data?.coursePublished?.title === title));
  const sales = collect(client, 'subscription { purchaseMade { id course { title } } }',
    (rs) => rs.some((r) => r.data?.purchaseMade?.course.title === title));
  await sleep(500);
  const course = await createCourse(admin.accessToken, title);
  const email = `sse-single-${Date.now()}@example.com`;
  const buyer = (await gql('mutation($in: SignupInput!) { signup(input: $in) { accessToken } }',
    { in: { email, password: 'sse-client-password-1', name: 'SSE buyer' } })).signup;
  await gql('mutation($id: ID!) { purchaseCourse(courseId: $id) { id } }', { id: course.id }, buyer.accessToken);
  const [p, s] = await Promise.all([published.done, sales.done]);
  assert.equal(p.how, 'disposed');
  assert.equal(s.how, 'disposed');
  // A USER's purchaseMade on a stream of its own is refused on it.
  const refused = await collect(sseClient(buyer.accessToken, true), 'subscription { purchaseMade { id } }').done;
  assert.equal(refused.how, 'complete');
  assert.equal(refused.results[0].errors[0].extensions.code, 'FORBIDDEN');
  client.dispose();
});

check('graphql-sse keeps its subscriptions across access-token expiry with a lazy headers function (both modes)', async () => {
  // ACCESS_TOKEN_TTL is 10 s here (stream-clients-test.sh). At expiry the
  // server drops the stream; the client retries, calls headers again, and
  // the app's function hands over a fresh token.
  let token = null;
  let issued = 0;
  const freshToken = async () => {
    if (!token || Date.now() - issued > 8_000) {
      token = (await login(adminEmail, adminPassword)).accessToken;
      issued = Date.now();
    }
    return token;
  };
  const lazyClient = (singleConnection) => {
    const counts = { retries: 0 };
    const client = createClient({
      url,
      singleConnection,
      retry: () => sleep(100),
      headers: async () => ({ Authorization: `Bearer ${await freshToken()}` }),
      on: { connected: (wasRetry) => { if (wasRetry) counts.retries++; } },
    });
    return { client, counts };
  };
  const distinct = lazyClient(false);
  const single = lazyClient(true);
  const title = `Across expiry ${Date.now()}`;
  const until = (rs) => rs.some((r) => r.data?.purchaseMade?.course.title === title || r.data?.coursePublished?.title === title);
  const subs = [
    collect(distinct.client, 'subscription { coursePublished { id title } }', until, 30_000),
    collect(single.client, 'subscription { coursePublished { id title } }', until, 30_000),
  ];
  await sleep(12_000); // past the first token's expiry
  await createCourse(await freshToken(), title);
  for (const sub of subs) {
    const { results, how } = await sub.done;
    assert.equal(how, 'disposed', JSON.stringify(results));
    assert.ok(results.every((r) => !r.errors), JSON.stringify(results));
  }
  assert.ok(distinct.counts.retries >= 1, 'the distinct-mode stream was not dropped and retried at the expiry');
  assert.ok(single.counts.retries >= 1, 'the single-mode stream was not dropped and retried at the expiry');
  single.client.dispose();
  distinct.client.dispose();
});

// apolloSubscribe subscribes with Apollo Client's HttpLink (no WebSocket
// link: the multipart protocol) and resolves like collect.
function apolloSubscribe(token, query, until = () => false, timeoutMs = 10_000) {
  const client = new ApolloClient({
    link: new HttpLink({ uri: url, headers: token ? { authorization: `Bearer ${token}` } : {} }),
    cache: new InMemoryCache(),
  });
  const results = [];
  let sub;
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => { sub.unsubscribe(); reject(new Error(`no end within ${timeoutMs} ms; got ${JSON.stringify(results)}`)); }, timeoutMs);
    const finish = (how) => { clearTimeout(timer); resolve({ results, how }); };
    sub = client.subscribe({ query: apolloGql(query) }).subscribe({
      next: (r) => { results.push(r); if (until(results)) { sub.unsubscribe(); finish('disposed'); } },
      error: (e) => finish(e),
      complete: () => finish('complete'),
    });
  });
  return { done };
}

check('Apollo Client (multipart): an anonymous coursePublished subscriber gets the event', async () => {
  const admin = await login(adminEmail, adminPassword);
  const title = `Apollo multipart ${Date.now()}`;
  const sub = apolloSubscribe(null, 'subscription { coursePublished { id title } }',
    (rs) => rs.some((r) => r.data?.coursePublished?.title === title));
  await sleep(300);
  const course = await createCourse(admin.accessToken, title);
  const { results, how } = await sub.done;
  assert.equal(how, 'disposed');
  const event = results.find((r) => r.data?.coursePublished?.title === title);
  assert.equal(event.data.coursePublished.id, course.id);
  assert.equal(event.error, undefined);
});

check('Apollo Client (multipart): USER purchaseMade is FORBIDDEN; a logged-out admin stream ends UNAUTHENTICATED', async () => {
  const email = `apollo-${Date.now()}@example.com`;
  const user = (await gql('mutation($in: SignupInput!) { signup(input: $in) { accessToken } }',
    { in: { email, password: 'apollo-client-password-1', name: 'Apollo' } })).signup;
  const refused = await apolloSubscribe(user.accessToken, 'subscription { purchaseMade { id } }').done;
  assert.equal(refused.how, 'complete');
  assert.equal(refused.results[0].error.errors[0].extensions.code, 'FORBIDDEN');

  const admin = await login(adminEmail, adminPassword);
  const sub = apolloSubscribe(admin.accessToken, 'subscription { purchaseMade { id } }');
  await sleep(300);
  const loggedOut = Date.now();
  await gql('mutation { logout }', {}, admin.accessToken);
  const { results, how } = await sub.done;
  const took = Date.now() - loggedOut;
  assert.equal(how, 'complete');
  // The server's end of the stream is a transport-level error for Apollo.
  assert.equal(results.at(-1).error.name, 'CombinedProtocolErrors');
  assert.equal(results.at(-1).error.errors[0].extensions.code, 'UNAUTHENTICATED');
  assert.ok(took < 1000, `ended ${took} ms after the logout`);
});

let passed = 0;
let failed = 0;
for (const { name, fn } of checks) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}\n  ${String(e?.stack ?? e).split('\n').join('\n  ')}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
