// Subscriptions in the browser: coursePublished for everyone, purchaseMade for admins.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  ADMIN_EMAIL,
  assertNoPageErrors,
  ADMIN_PASSWORD,
  APP_URL,
  createUser,
  launchBrowser,
  newPage,
  screenshotter,
  subscribed,
  uiLogin,
  unique,
} from './helpers.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('an admin creates and publishes a course; another browser sees the live banner', { timeout: 120_000 }, async () => {
  const shot = screenshotter('live');
  const title = unique('Live course');

  // Browser context 1: a visitor who is not signed in, watching the catalogue.
  const visitorCtx = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const visitor = await newPage(visitorCtx, 'visitor');
  const listening = subscribed(visitor, 'CoursePublished');
  await visitor.goto(APP_URL);
  await visitor.getByTestId('signed-out').waitFor();
  await listening;

  // Browser context 2: the admin, through the UI.
  const adminCtx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const admin = await newPage(adminCtx, 'admin');
  await admin.goto(APP_URL);
  await admin.getByTestId('signed-out').waitFor();
  await uiLogin(admin, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
  await admin.getByTestId('nav-admin').click();
  await admin.getByTestId('course-title-input').fill(title);
  await admin.getByTestId('course-description-input').fill('Published live while another browser watches.');
  await admin.getByTestId('course-price-input').fill('19.90');
  await admin.getByTestId('create-course-submit').click();
  await admin.getByTestId('created-course').waitFor();
  assert.equal(await admin.getByTestId('created-course-state').innerText(), 'draft');
  await shot(admin, 'admin-created-draft');

  // A draft is not public: the visitor has no banner yet.
  assert.equal(await visitor.getByTestId('live-banner').count(), 0);

  await admin.getByTestId('created-course').getByTestId('publish-button').click();
  await admin.getByTestId('created-course-state').filter({ hasText: 'published' }).waitFor();
  await shot(admin, 'admin-published');

  // The visitor's banner, and the course at the top of their list.
  const banner = visitor.getByTestId('live-banner');
  await banner.waitFor({ timeout: 10_000 });
  assert.equal(await visitor.getByTestId('live-banner-title').innerText(), title);
  assert.match(await banner.innerText(), /\$19\.90/);
  await visitor.getByTestId('course-title').filter({ hasText: title }).waitFor();
  await shot(visitor, 'visitor-banner');

  await adminCtx.close();
  await visitorCtx.close();
  assertNoPageErrors();
});

test('an admin sees a purchase live (purchaseMade)', { timeout: 120_000 }, async () => {
  const shot = screenshotter('sales');

  // The admin publishes a course through the UI and stays on the admin page.
  const adminCtx = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const admin = await newPage(adminCtx, 'admin');
  await admin.goto(APP_URL);
  await admin.getByTestId('signed-out').waitFor();
  // The socket opens at sign-in (it is replaced whenever the token changes).
  const watchingSales = subscribed(admin, 'PurchaseMade');
  await uiLogin(admin, { email: ADMIN_EMAIL, password: ADMIN_PASSWORD });
  await admin.getByTestId('nav-admin').click();
  await watchingSales;
  const title = unique('Sold live');
  await admin.getByTestId('course-title-input').fill(title);
  await admin.getByTestId('course-price-input').fill('5');
  await admin.getByTestId('create-course-submit').click();
  await admin.getByTestId('created-course').getByTestId('publish-button').click();
  await admin.getByTestId('created-course-state').filter({ hasText: 'published' }).waitFor();

  // A user buys it in another browser.
  const buyerCtx = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const buyer = await newPage(buyerCtx, 'buyer');
  const user = await createUser('buyer');
  await buyer.goto(APP_URL);
  await buyer.getByTestId('signed-out').waitFor();
  await uiLogin(buyer, user);
  const item = buyer.locator('[data-testid="course-item"]').filter({ hasText: title });
  await item.getByTestId('buy-button').click();
  await item.getByTestId('owned-badge').waitFor();

  const sale = admin.getByTestId('live-sale').filter({ hasText: title });
  await sale.waitFor({ timeout: 10_000 });
  assert.match(await sale.innerText(), /\$5\.00/);
  await shot(admin, 'admin-live-sale');

  await buyerCtx.close();
  await adminCtx.close();
  assertNoPageErrors();
});
