// Cookie sessions: the access token in memory, the refresh token in an
// HttpOnly cookie, refreshSession on page load, one refresh at a time for all tabs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  API_URL,
  APP_URL,
  apiLogin,
  assertNoPageErrors,
  createUser,
  gql,
  launchBrowser,
  newPage,
  screenshotter,
  uiLogin,
} from './helpers.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** The names of the GraphQL operations a page POSTs, as they happen. */
function recordOperations(page) {
  const ops = [];
  page.on('request', (req) => {
    if (req.url() === API_URL && req.method() === 'POST') {
      try {
        ops.push(JSON.parse(req.postData() ?? '{}').operationName ?? '?');
      } catch {
        ops.push('?');
      }
    }
  });
  return ops;
}

test('after login a reload keeps the session (refreshSession from the cookie)', { timeout: 120_000 }, async () => {
  const shot = screenshotter('session');
  const user = await createUser('reloader');
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await newPage(context, 'reloader');
  await page.goto(APP_URL);
  await page.getByTestId('signed-out').waitFor();
  await uiLogin(page, user);
  await shot(page, 'logged-in');

  // Where the tokens are: the refresh token only in an HttpOnly cookie
  // scoped to /graphql; nothing in web storage; nothing a script can read.
  const cookies = await context.cookies(API_URL);
  const rt = cookies.find((c) => c.name === 'coursehub_rt');
  assert.ok(rt, `refresh cookie set: ${JSON.stringify(cookies.map((c) => c.name))}`);
  assert.equal(rt.httpOnly, true);
  assert.equal(rt.path, '/graphql');
  assert.equal(rt.sameSite, 'Strict');
  const visible = await page.evaluate(() => ({
    cookie: document.cookie,
    storage: JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }),
  }));
  assert.doesNotMatch(visible.cookie, /coursehub_rt/);
  assert.doesNotMatch(visible.storage, /eyJ/, 'no JWT in web storage');

  const ops = recordOperations(page);
  await page.reload();
  await page.getByTestId('current-user').waitFor();
  assert.match(await page.getByTestId('current-user').innerText(), new RegExp(user.name));
  assert.equal(ops[0], 'RefreshSession', `first request after reload: ${ops.join(', ')}`);
  // Signed-in data works with the restored token.
  await page.getByTestId('nav-my-courses').click();
  await page.getByTestId('my-courses-total').waitFor();
  await shot(page, 'reloaded-still-signed-in');
  await context.close();
  assertNoPageErrors();
});

test('tabs that reload at the same moment share the refresh and keep the session', { timeout: 120_000 }, async () => {
  const shot = screenshotter('tabs');
  const user = await createUser('tabs');
  const context = await browser.newContext({ viewport: { width: 1000, height: 600 } });
  const tabs = [await newPage(context, 'tab1'), await newPage(context, 'tab2'), await newPage(context, 'tab3')];
  // Playwright interacts with one tab at a time; the one in front is not
  // throttled by the browser (background tabs get 1 s timers and no frames).
  await tabs[0].bringToFront();
  await tabs[0].goto(APP_URL);
  await tabs[0].getByTestId('signed-out').waitFor();
  await uiLogin(tabs[0], user);

  // Each page load refreshes from the one cookie. Without the cross-tab lock
  // two of them would present the same refresh token, and the server would
  // end the session as a replay.
  for (let round = 1; round <= 3; round++) {
    await Promise.all(tabs.map((t) => (round === 1 && t !== tabs[0] ? t.goto(APP_URL) : t.reload())));
    for (const t of tabs) await t.getByTestId('current-user').waitFor();
  }
  // The session is still alive: a fresh page load signs in again.
  await tabs[1].bringToFront();
  await tabs[1].reload();
  await tabs[1].getByTestId('current-user').waitFor();
  await tabs[1].getByTestId('nav-my-courses').click();
  await tabs[1].getByTestId('my-courses-total').waitFor();
  await shot(tabs[1], 'tab2-signed-in');

  // Logging out in one tab signs every tab out.
  await tabs[0].bringToFront();
  await tabs[0].getByTestId('logout-button').click();
  for (const t of tabs) await t.getByTestId('signed-out').waitFor();
  await tabs[2].reload();
  await tabs[2].getByTestId('signed-out').waitFor();
  await shot(tabs[1], 'tab2-signed-out-by-tab1');
  await context.close();
  assertNoPageErrors();
});

test('a session ended elsewhere signs the page out', { timeout: 120_000 }, async () => {
  const shot = screenshotter('ended');
  const user = await createUser('ended');
  const context = await browser.newContext({ viewport: { width: 1000, height: 600 } });
  const page = await newPage(context, 'ended');
  await page.goto(APP_URL);
  await page.getByTestId('signed-out').waitFor();
  await uiLogin(page, user);

  // From another device: end every session of the user.
  const token = await apiLogin(user);
  assert.equal((await gql('mutation { logoutAll }', {}, token)).logoutAll, true);

  // The next signed-in request is refused; the one refresh it triggers is
  // refused too, and the page says so. (The page may find out first by
  // itself: its socket's periodic session check closes it with 4401, and the
  // refresh that follows is refused. Then there is no "My courses" to click.)
  await page
    .getByTestId('nav-my-courses')
    .click({ timeout: 5_000 })
    .catch(() => undefined);
  await page.getByTestId('session-ended').waitFor();
  await page.getByTestId('signed-out').waitFor();
  await shot(page, 'session-ended');
  await page.reload();
  await page.getByTestId('signed-out').waitFor();
  await context.close();
  assertNoPageErrors();
});
