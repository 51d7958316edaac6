// The real graphql-ws client (what Apollo Client's GraphQLWsLink and urql's
// subscriptionExchange use) against a coursehub server started by
// scripts/ws-client-test.sh with ACCESS_TOKEN_TTL=10s. It shows what the
// README promises, with no app code beyond a lazy connectionParams:
//   - a subscription keeps delivering across two access-token expiries
//     (the server closes with 4419, graphql-ws reconnects, calls
//     connectionParams again and re-subscribes);
//   - cookie mode needs not even that: the refresh cookie signs in the
//     socket that replaces one whose access cookie expired;
//   - a refused subscription gets `error` and the socket's other
//     subscription keeps delivering;
//   - logout ends the socket with 4401 and the client does not reconnect.
//
//   COURSEHUB_URL=http://127.0.0.1:8080/graphql ADMIN_EMAIL=… ADMIN_PASSWORD=… \
//     COURSEHUB_ORIGIN=http://app.test node --test client.test.mjs
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const API = process.env.COURSEHUB_URL;
const WS = API.replace(/^http/, 'ws');
const ORIGIN = process.env.COURSEHUB_ORIGIN;
const ADMIN = { email: process.env.ADMIN_EMAIL, password: process.env.ADMIN_PASSWORD };
assert.ok(API && ORIGIN && ADMIN.email && ADMIN.password, 'COURSEHUB_URL, COURSEHUB_ORIGIN, ADMIN_EMAIL and ADMIN_PASSWORD are required');

const AUTH_FIELDS = 'accessToken refreshToken expiresAt user { id role }';

// --- HTTP ---------------------------------------------------------------------

/** A minimal cookie jar: what a browser keeps for /graphql, expiry included. */
class Jar {
  #cookies = new Map(); // name -> { value, expires (ms) }

  take(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let expires = Infinity;
      let maxAge = null;
      for (const a of attrs) {
        const [k, v] = a.split('=');
        if (k.toLowerCase() === 'max-age') maxAge = Number(v);
        else if (k.toLowerCase() === 'expires' && maxAge === null) expires = Date.parse(v);
      }
      if (maxAge !== null) expires = maxAge <= 0 ? 0 : Date.now() + maxAge * 1000;
      if (value === '' || expires <= Date.now()) this.#cookies.delete(name);
      else this.#cookies.set(name, { value, expires });
    }
  }

  has(name) {
    const c = this.#cookies.get(name);
    return c !== undefined && c.expires > Date.now();
  }

  header() {
    const now = Date.now();
    return [...this.#cookies]
      .filter(([, c]) => c.expires > now)
      .map(([n, c]) => `${n}=${c.value}`)
      .join('; ');
  }
}

async function gql(query, variables = {}, { token, jar } = {}) {
  const headers = { 'Content-Type': 'application/json', Origin: ORIGIN };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (jar?.header()) headers.Cookie = jar.header();
  const res = await fetch(API, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  jar?.take(res);
  const body = await res.json();
  if (body.errors?.length) {
    const e = body.errors[0];
    throw Object.assign(new Error(`${e.extensions?.code}: ${e.message}`), { code: e.extensions?.code });
  }
  return body.data;
}

/**
 * A signed-in client with header tokens, as an app keeps them: token()
 * refreshes (single flight) when the access token is about to expire.
 */
class Session {
  static async login({ email, password }) {
    const { login } = await gql(`mutation($in: LoginInput!) { login(input: $in) { ${AUTH_FIELDS} } }`, {
      in: { email, password },
    });
    return new Session(login);
  }

  static async signup(email, password) {
    const { signup } = await gql(`mutation($in: SignupInput!) { signup(input: $in) { ${AUTH_FIELDS} } }`, {
      in: { email, password, name: 'graphql-ws test' },
    });
    return new Session(signup);
  }

  #inflight = null;
  refreshes = 0;

  constructor(p) {
    this.adopt(p);
    this.user = p.user;
  }

  adopt(p) {
    this.access = p.accessToken;
    this.refresh = p.refreshToken;
    this.expiresAt = Date.parse(p.expiresAt);
  }

  async token() {
    if (this.expiresAt - Date.now() > 3000) return this.access;
    this.#inflight ??= gql(`mutation($t: String!) { refreshToken(refreshToken: $t) { ${AUTH_FIELDS} } }`, {
      t: this.refresh,
    })
      .then(({ refreshToken }) => {
        this.adopt(refreshToken);
        this.refreshes++;
      })
      .finally(() => {
        this.#inflight = null;
      });
    await this.#inflight;
    return this.access;
  }

  async logout() {
    await gql('mutation { logout }', {}, { token: await this.token() });
  }
}

const unique = (what) => `${what} ${Date.now()} ${Math.random().toString(36).slice(2, 8)}`;

async function createCourse(admin, title, published = true) {
  const { createCourse } = await gql(
    'mutation($in: CreateCourseInput!) { createCourse(input: $in) { id } }',
    { in: { title, description: 'graphql-ws test', price: 100, published } },
    { token: await admin.token() },
  );
  return createCourse.id;
}

async function waitFor(what, cond, ms) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * Makes events until one reaches the subscriber: fires make(title) with a
 * fresh title every 400 ms until seen(title), for up to ms. A reconnecting
 * client re-subscribes a moment after it connects, so the first tries may
 * fall in that gap; the subscription must not stay deaf.
 */
async function mustDeliver(what, make, seen, ms = 12000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const title = unique(what);
    await make(title);
    const until = Date.now() + 400;
    while (Date.now() < until) {
      if (seen(title)) return;
      await sleep(25);
    }
    if (Date.now() > deadline) assert.fail(`no event reached the subscriber: ${what}`);
  }
}

// --- a graphql-ws client, instrumented ----------------------------------------

function instrumentedClient(options) {
  const log = { connecting: 0, connected: 0, closes: [], gaps: [] };
  let closedAt = 0;
  const client = createClient({
    url: WS,
    webSocketImpl: WebSocket,
    retryAttempts: 5,
    ...options,
    on: {
      connecting: () => log.connecting++,
      connected: () => {
        log.connected++;
        if (closedAt) log.gaps.push(Date.now() - closedAt);
        closedAt = 0;
      },
      closed: (e) => {
        log.closes.push(e?.code);
        closedAt = Date.now();
      },
    },
  });
  return { client, log };
}

/** Subscribes and records what the sink gets. */
function record(client, query) {
  const out = { events: [], error: null, completed: false };
  out.dispose = client.subscribe(
    { query },
    {
      next: (r) => out.events.push(r),
      error: (e) => {
        out.error = e;
      },
      complete: () => {
        out.completed = true;
      },
    },
  );
  out.saw = (title) => out.events.some((r) => JSON.stringify(r.data ?? null).includes(title));
  return out;
}

const PURCHASES = 'subscription { purchaseMade { course { title } } }';
const PUBLISHED = 'subscription { coursePublished { title } }';

// The tests wait for token expiries (10 s each), so they run side by side.
describe('graphql-ws client', { concurrency: true }, () => {
  it('keeps a subscription across two access-token expiries with a lazy connectionParams', async (t) => {
    const subscriber = await Session.login(ADMIN);
    const actor = await Session.login(ADMIN);
    const buyer = await Session.signup(`${unique('expiry').replace(/\W+/g, '-')}@example.com`, 'buyer-password-1');
    let paramsCalls = 0;
    const { client, log } = instrumentedClient({
      // The app's whole part: fresh credentials each time the client connects.
      connectionParams: async () => {
        paramsCalls++;
        return { Authorization: `Bearer ${await subscriber.token()}` };
      },
    });
    const sales = record(client, PURCHASES);
    const buy = async (title) => {
      const id = await createCourse(actor, title);
      await gql('mutation($id: ID!) { purchaseCourse(courseId: $id) { id } }', { id }, { token: await buyer.token() });
    };
    try {
      await mustDeliver('before any expiry', buy, sales.saw);
      for (const n of [1, 2]) {
        await waitFor(`expiry ${n}`, () => log.closes.filter((c) => c === 4419).length >= n, 15000);
        await mustDeliver(`after expiry ${n}`, buy, sales.saw);
      }
      assert.equal(sales.error, null, `the subscription failed: ${JSON.stringify(sales.error)}`);
      assert.equal(sales.completed, false, 'the subscription completed');
      assert.deepEqual(
        log.closes.filter((c) => c !== 4419),
        [],
        'the server closed the socket with another code than 4419',
      );
      assert.ok(log.connected >= 3, `connected ${log.connected} times, want 3 (one per token)`);
      assert.ok(paramsCalls >= 3, `connectionParams called ${paramsCalls} times`);
      assert.ok(subscriber.refreshes >= 2, `refreshed ${subscriber.refreshes} times, want 2`);
      for (const r of sales.events) assert.equal(r.errors, undefined, `an event with errors: ${JSON.stringify(r)}`);
      // graphql-ws's own retry wait (1.3 to 4 s) plus the refresh and the
      // new socket's connection_init: how long the subscription was deaf.
      t.diagnostic(`close (4419) to connected again: ${log.gaps.join(' ms, ')} ms`);
    } finally {
      sales.dispose();
      await client.dispose();
    }
  });

  it('keeps a cookie-mode subscription across access-token expiry with no app code', async () => {
    const jar = new Jar();
    await gql(`mutation($in: LoginInput!) { login(input: $in, delivery: COOKIES) { user { id } } }`, { in: ADMIN }, { jar });
    assert.ok(jar.has('coursehub_at') && jar.has('coursehub_rt'), 'login set both cookies');
    const actor = await Session.login(ADMIN);
    const buyer = await Session.signup(`${unique('cookie').replace(/\W+/g, '-')}@example.com`, 'buyer-password-1');
    // What a browser does on its own: send the origin and the cookies with
    // the upgrade. No connectionParams at all.
    const upgrades = [];
    class BrowserLikeWebSocket extends WebSocket {
      constructor(url, protocols) {
        upgrades.push({ access: jar.has('coursehub_at'), refresh: jar.has('coursehub_rt') });
        super(url, protocols, { headers: { Origin: ORIGIN, Cookie: jar.header() } });
      }
    }
    const { client, log } = instrumentedClient({ webSocketImpl: BrowserLikeWebSocket });
    const sales = record(client, PURCHASES);
    const buy = async (title) => {
      const id = await createCourse(actor, title);
      await gql('mutation($id: ID!) { purchaseCourse(courseId: $id) { id } }', { id }, { token: await buyer.token() });
    };
    try {
      await mustDeliver('cookie, before expiry', buy, sales.saw);
      await waitFor('the access cookie to expire', () => log.closes.includes(4419), 15000);
      await mustDeliver('cookie, after expiry', buy, sales.saw);
      assert.equal(sales.error, null, `the subscription failed: ${JSON.stringify(sales.error)}`);
      assert.ok(
        upgrades.some((u) => !u.access && u.refresh),
        `no upgrade went with the refresh cookie alone: ${JSON.stringify(upgrades)}`,
      );
      // Logout (after a refresh: the access cookie has expired) clears the
      // cookies and ends the socket for good.
      await gql('mutation { refreshSession(delivery: COOKIES) { expiresAt } }', {}, { jar });
      await gql('mutation { logout }', {}, { jar });
      assert.ok(!jar.has('coursehub_rt'), 'logout left the refresh cookie');
      await waitFor('the socket to close with 4401', () => sales.error !== null, 5000);
      assert.equal(sales.error?.code, 4401, `want close 4401, got ${JSON.stringify(sales.error)}`);
    } finally {
      sales.dispose();
      await client.dispose();
    }
  });

  it("gives a USER's refused purchaseMade an error while coursePublished on the same socket keeps delivering", async () => {
    const actor = await Session.login(ADMIN);
    const user = await Session.signup(`${unique('refused').replace(/\W+/g, '-')}@example.com`, 'user-password-1');
    const { client, log } = instrumentedClient({
      lazy: false,
      connectionParams: async () => ({ Authorization: `Bearer ${await user.token()}` }),
    });
    const published = record(client, PUBLISHED);
    const sales = record(client, PURCHASES);
    try {
      await waitFor("purchaseMade's error", () => sales.error !== null, 5000);
      assert.ok(Array.isArray(sales.error), `want the GraphQL errors, got ${JSON.stringify(sales.error)}`);
      assert.equal(sales.error[0]?.extensions?.code, 'FORBIDDEN');
      assert.deepEqual(sales.error[0]?.path, ['purchaseMade']);
      assert.equal(sales.events.length, 0, 'purchaseMade delivered something');
      await mustDeliver('published after the refusal', (title) => createCourse(actor, title), published.saw);
      assert.equal(published.error, null);
      assert.deepEqual(log.closes, [], 'the socket was closed');
      assert.equal(log.connected, 1, 'the client reconnected');
    } finally {
      published.dispose();
      sales.dispose();
      await client.dispose();
    }
  });

  it('ends the socket with 4401 at logout, and the client does not reconnect', async () => {
    const actor = await Session.login(ADMIN);
    const user = await Session.signup(`${unique('logout').replace(/\W+/g, '-')}@example.com`, 'user-password-1');
    const { client, log } = instrumentedClient({
      connectionParams: async () => ({ Authorization: `Bearer ${await user.token()}` }),
    });
    const published = record(client, PUBLISHED);
    try {
      await mustDeliver('published before logout', (title) => createCourse(actor, title), published.saw);
      await user.logout();
      await waitFor('the subscription to fail', () => published.error !== null, 5000);
      assert.equal(published.error?.code, 4401, `want close 4401, got ${JSON.stringify(published.error)}`);
      const attempts = log.connecting;
      await sleep(6000); // longer than graphql-ws's first retry wait (1.3 to 4 s)
      assert.equal(log.connecting, attempts, 'the client reconnected after 4401');
      assert.equal(log.connecting, 1);
    } finally {
      published.dispose();
      await client.dispose();
    }
  });
});
