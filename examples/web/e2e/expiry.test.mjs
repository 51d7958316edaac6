// Access-token expiry, against a second API whose tokens live 10 seconds
// (ACCESS_TOKEN_TTL=10s) and a build of the app pointed at it: the server
// closes each socket with 4419 when its token expires, graphql-ws reconnects,
// its lazy connectionParams refreshes (one tab at a time), it re-subscribes,
// and the session survives.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  assertNoPageErrors,
  createPublishedCourse,
  createUser,
  launchBrowser,
  newPage,
  screenshotter,
  subscribed,
  uiLogin,
  unique,
} from './helpers.mjs';

const APP = process.env.EXPIRY_APP_URL;
const API = process.env.EXPIRY_API_URL;
const TTL_MS = Number(process.env.EXPIRY_ACCESS_TOKEN_TTL_SECONDS ?? 10) * 1000;
const skip = !APP || !API ? 'needs EXPIRY_APP_URL and EXPIRY_API_URL (scripts/browser-test.sh sets them)' : false;

let browser;
before(async () => {
  if (!skip) browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('two tabs outlive their access tokens: refresh one at a time, re-subscribe, keep the session', { skip, timeout: 180_000 }, async () => {
  const shot = screenshotter('expiry');
  const user = await createUser('expiry', API);
  const context = await browser.newContext({ viewport: { width: 1000, height: 600 } });
  const tabs = [await newPage(context, 'exp-tab1'), await newPage(context, 'exp-tab2')];

  const refreshes = [];
  // Per tab, its sockets: when each subscribed to CoursePublished, whether it closed.
  const sockets = tabs.map(() => []);
  for (const [i, t] of tabs.entries()) {
    t.on('request', (req) => {
      if (req.url() === API && req.method() === 'POST' && /"operationName":"RefreshSession"/.test(req.postData() ?? '')) {
        refreshes.push(`tab${i + 1}@${Date.now()}`);
      }
    });
    t.on('websocket', (ws) => {
      const s = { subscribedAt: 0, closed: false };
      sockets[i].push(s);
      ws.on('framesent', ({ payload }) => {
        if (String(payload).includes('"subscribe"') && String(payload).includes('CoursePublished')) s.subscribedAt = Date.now();
      });
      ws.on('close', () => {
        s.closed = true;
      });
    });
  }
  // Resolves when every tab's newest socket is subscribed, open, and its
  // token has at least `left` ms to live (a socket's token is about as old
  // as its subscription): an event published now reaches every tab.
  async function allListening(left = 3000, timeout = 3 * TTL_MS) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const ok = sockets.every((list) => {
        const s = list.at(-1);
        return s && !s.closed && s.subscribedAt > 0 && s.subscribedAt + TTL_MS - Date.now() > left;
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`tabs not all listening: ${JSON.stringify(sockets)}`);
      await sleep(100);
    }
  }

  await tabs[0].bringToFront(); // background tabs are throttled; Playwright works in the front one
  await tabs[0].goto(APP);
  await tabs[0].getByTestId('signed-out').waitFor();
  await uiLogin(tabs[0], user);
  await tabs[1].bringToFront();
  await tabs[1].goto(APP);
  await tabs[1].getByTestId('current-user').waitFor();

  // Two token lifetimes pass with the tabs idle. Each expiry closes the
  // sockets with 4419 and the tabs refresh as they reconnect.
  const refreshesBefore = refreshes.length;
  const closesBefore = sockets.flat().filter((x) => x.closed).length;
  // (Plus the reconnect: the client waits up to half a second before it
  // reconnects, and refreshes then.)
  await sleep(2 * TTL_MS + 3000);
  const idleRefreshes = refreshes.length - refreshesBefore;
  assert.ok(idleRefreshes >= 2, `tabs refreshed after expiry (${refreshes.join(', ')})`);
  // At most one refresh per tab and token lifetime: no refresh storm.
  assert.ok(idleRefreshes <= 2 * 3, `refreshes: ${refreshes.join(', ')}`);
  // Idle tabs send nothing, so these refreshes were set off by the server
  // closing the sockets (4419) at expiry; graphql-ws opened new ones.
  assert.ok(sockets.flat().filter((x) => x.closed).length - closesBefore >= 2, 'sockets replaced after expiry');

  // Both tabs re-subscribed on their new sockets: a course published now
  // shows up live in each.
  await allListening();
  const title = unique('After expiry');
  await createPublishedCourse(title, 1000, API);
  for (const t of tabs) {
    await t.getByTestId('live-banner-title').filter({ hasText: title }).waitFor({ timeout: 10_000 });
  }

  // Signed-in requests in both tabs at once still work...
  await Promise.all(tabs.map((t) => t.getByTestId('nav-my-courses').click()));
  for (const t of tabs) await t.getByTestId('my-courses-total').waitFor();
  await shot(tabs[1], 'tab2-after-two-expiries');

  // ...and the session was never ended by a replayed refresh token.
  await tabs[0].bringToFront();
  await tabs[0].reload();
  await tabs[0].getByTestId('current-user').waitFor();
  assert.equal(await tabs[0].getByTestId('session-ended').count(), 0);
  await shot(tabs[0], 'tab1-reloaded');
  console.log(`refreshSession requests: ${refreshes.length}; sockets: ${sockets.flat().length}`);
  await context.close();
  assertNoPageErrors();
});
