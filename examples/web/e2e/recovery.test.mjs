// Account recovery in the browser: "forgot password", the reset page and the
// verification page, following the links the API wrote to its outbox.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  APP_URL,
  apiLogin,
  assertNoPageErrors,
  createUser,
  launchBrowser,
  mailLink,
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

test('forgot password: the mailed link sets a new password and signs in', { timeout: 120_000 }, async () => {
  const shot = screenshotter('recovery');
  const user = await createUser('forgetful');
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await newPage(context, 'forgetful');
  await page.goto(APP_URL);
  await page.getByTestId('nav-login').click();
  await page.getByTestId('forgot-link').click();
  await page.getByTestId('forgot-email').fill(user.email);
  await page.getByTestId('forgot-submit').click();
  await page.getByTestId('forgot-sent').waitFor();
  await shot(page, 'forgot-sent');

  const link = await mailLink(user.email, '/reset-password');
  await page.goto(link);
  await page.getByTestId('reset-form').waitFor();
  assert.equal(new URL(page.url()).search, '', 'the token is taken out of the address bar');
  await shot(page, 'reset-form');
  const next = 'a brand new password';
  await page.getByTestId('reset-password-input').fill(next);
  await page.getByTestId('reset-submit').click();
  await page.getByTestId('current-user').waitFor();
  assert.match(await page.getByTestId('current-user').innerText(), new RegExp(user.name));
  await shot(page, 'signed-in-after-reset');

  // A reload keeps the session: the reset delivered the refresh cookie.
  await page.reload();
  await page.getByTestId('current-user').waitFor();

  await apiLogin({ email: user.email, password: next });
  await assert.rejects(apiLogin(user), /UNAUTHENTICATED/);

  // The link works once.
  const again = await newPage(await browser.newContext(), 'forgetful-again');
  await again.goto(link);
  await again.getByTestId('reset-password-input').fill('yet another password');
  await again.getByTestId('reset-submit').click();
  assert.match(await again.getByTestId('reset-error').innerText(), /invalid or has expired/);
  await shot(again, 'link-used-twice');
  assertNoPageErrors();
  await context.close();
});

test('email verification: the notice sends a link, the link confirms the address', { timeout: 120_000 }, async () => {
  const shot = screenshotter('verify');
  const user = await createUser('verifier');
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await newPage(context, 'verifier');
  await page.goto(APP_URL);
  await uiLogin(page, user);
  await page.getByTestId('verify-notice').waitFor();
  await page.getByTestId('verify-request').click();
  await page.getByTestId('verify-requested').waitFor();
  await shot(page, 'link-requested');

  await page.goto(await mailLink(user.email, '/verify-email'));
  await page.getByTestId('verify-page').waitFor();
  await shot(page, 'verify-page');
  await page.getByTestId('verify-submit').click();
  await page.getByTestId('verify-done').waitFor();
  await page.getByTestId('verify-continue').click();
  await page.getByTestId('current-user').waitFor();
  assert.equal(await page.getByTestId('verify-notice').count(), 0, 'no notice once the address is confirmed');
  await shot(page, 'verified');
  assertNoPageErrors();
  await context.close();
});
