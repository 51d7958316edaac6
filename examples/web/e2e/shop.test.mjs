// Sign up, log out, log in, buy a course, see it in "My courses", log out.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { APP_URL, assertNoPageErrors, createPublishedCourse, launchBrowser, newPage, screenshotter, unique } from './helpers.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('sign up, log in, buy a course, see it in my courses, log out', { timeout: 120_000 }, async () => {
  const shot = screenshotter('shop');
  // An admin has published a course (through the API; the UI path is live.test.mjs).
  const course = await createPublishedCourse(unique('Course to buy'), 4900);

  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await newPage(context, 'shopper');
  await page.goto(APP_URL);
  await page.getByTestId('signed-out').waitFor();
  await page.getByTestId('courses-total').waitFor();
  await shot(page, 'signed-out-catalogue');

  // Sign up.
  const email = `${unique('ada')}@example.com`;
  const password = 'correct horse battery';
  await page.getByTestId('nav-signup').click();
  await page.getByTestId('name-input').fill('Ada Lovelace');
  await page.getByTestId('email-input').fill(email);
  await page.getByTestId('password-input').fill(password);
  await shot(page, 'signup-form');
  await page.getByTestId('auth-submit').click();
  await page.getByTestId('current-user').waitFor();
  assert.match(await page.getByTestId('current-user').innerText(), /Ada Lovelace/);
  await shot(page, 'signed-up');

  // Log out, then log in again.
  await page.getByTestId('logout-button').click();
  await page.getByTestId('signed-out').waitFor();
  await page.getByTestId('nav-login').click();
  await page.getByTestId('email-input').fill(email);
  await page.getByTestId('password-input').fill(password);
  await page.getByTestId('auth-submit').click();
  await page.getByTestId('current-user').waitFor();
  await shot(page, 'logged-in');

  // Buy the course.
  const item = page.locator(`[data-testid="course-item"][data-course-id="${course.id}"]`);
  await item.waitFor();
  assert.equal(await item.getByTestId('course-title').innerText(), course.title);
  assert.equal(await item.getByTestId('course-price').innerText(), '$49.00');
  await item.getByTestId('buy-button').click();
  await item.getByTestId('owned-badge').waitFor();
  assert.match(await item.getByTestId('owned-badge').innerText(), /purchased for \$49\.00/);
  await shot(page, 'bought');

  // It is in "My courses".
  await page.getByTestId('nav-my-courses').click();
  const mine = page.locator(`[data-testid="my-course-item"][data-course-id="${course.id}"]`);
  await mine.waitFor();
  assert.equal(await mine.getByTestId('my-course-title').innerText(), course.title);
  assert.match(await page.getByTestId('my-courses-total').innerText(), /1 purchased/);
  await shot(page, 'my-courses');

  // Log out: the session is over, also after a reload (the cookie is gone).
  await page.getByTestId('logout-button').click();
  await page.getByTestId('signed-out').waitFor();
  assert.equal(await page.getByTestId('nav-my-courses').count(), 0);
  await page.reload();
  await page.getByTestId('signed-out').waitFor();
  await shot(page, 'logged-out');
  await context.close();
  assertNoPageErrors();
});

test('"load more" pages through the catalogue', { timeout: 120_000 }, async () => {
  const shot = screenshotter('pages');
  // The page size is 5; make sure there are more than 5 published courses.
  for (let i = 0; i < 6; i++) await createPublishedCourse(unique(`Paged course ${i}`), 100 * (i + 1));

  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
  const page = await newPage(context, 'pager');
  await page.goto(APP_URL);
  const total = Number((await page.getByTestId('courses-total').innerText()).split(' ')[0]);
  assert.ok(total >= 6, `totalCount ${total}`);
  await page.getByTestId('course-item').nth(4).waitFor();
  assert.equal(await page.getByTestId('course-item').count(), 5);
  while (await page.getByTestId('load-more').count()) {
    const before = await page.getByTestId('course-item').count();
    await page.getByTestId('load-more').click();
    await page.getByTestId('course-item').nth(before).waitFor();
  }
  const ids = await page.getByTestId('course-item').evaluateAll((els) => els.map((e) => e.dataset.courseId));
  assert.equal(ids.length, total, 'every course, once');
  assert.equal(new Set(ids).size, total, 'no course twice');
  await shot(page, 'all-pages');
  await context.close();
  assertNoPageErrors();
});
