// The GraphQL IDE that the API serves at GET / (GraphiQL).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  assertNoPageErrors,
  createPublishedCourse,
  IDE_URL,
  launchBrowser,
  newPage,
  screenshotter,
  subscribed,
  unique,
} from './helpers.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('the IDE runs { courses { totalCount } } and shows the result', { timeout: 120_000 }, async () => {
  const shot = screenshotter('ide');
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await newPage(context, 'ide');
  const failed = [];
  page.on('requestfailed', (req) => failed.push(`${req.url()} (${req.failure()?.errorText})`));
  await page.goto(IDE_URL);
  try {
    await page.locator('.graphiql-container').waitFor({ timeout: 20_000 });
  } catch (e) {
    await shot(page, 'not-loaded');
    const external = failed.filter((u) => !u.startsWith(new URL(IDE_URL).origin));
    assert.fail(
      external.length
        ? `the IDE did not load; requests to other hosts failed (offline machine): ${external.join('; ')}`
        : `the IDE did not load: ${e.message}; failed requests: ${failed.join('; ') || 'none'}`,
    );
  }
  await shot(page, 'loaded');

  // Replace the query editor's content as a person would: select all, type.
  const editor = page.locator('.graphiql-query-editor .CodeMirror, .graphiql-query-editor .cm-editor').first();
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText('{ courses { totalCount } }');
  await shot(page, 'query-typed');
  // GraphiQL sometimes drops a click that comes right after typing (the
  // editor's change is still being applied): like a person, click again
  // when nothing happens.
  const response = page.locator('.graphiql-response, .result-window').first();
  for (let attempt = 1; ; attempt++) {
    await page.locator('.graphiql-execute-button').click();
    try {
      await response.filter({ hasText: 'totalCount' }).waitFor({ timeout: 3_000 });
      break;
    } catch (e) {
      if (attempt === 4) throw e;
    }
  }
  const text = (await response.innerText()).replace(/\s+/g, ' ');
  assert.match(text, /"data": \{ "courses": \{ "totalCount": \d+ \} \}/, text);
  assert.doesNotMatch(text, /"errors"/, text);
  await shot(page, 'result');
  await context.close();
  assertNoPageErrors();
});

test('the IDE runs a coursePublished subscription and shows a course published meanwhile', { timeout: 120_000 }, async () => {
  const shot = screenshotter('ide-subscription');
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await newPage(context, 'ide-subscription');
  await page.goto(IDE_URL);
  await page.locator('.graphiql-container').waitFor({ timeout: 20_000 });

  const editor = page.locator('.graphiql-query-editor .CodeMirror, .graphiql-query-editor .cm-editor').first();
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  await page.keyboard.insertText('subscription IdeLive { coursePublished { id title } }');
  await shot(page, 'subscription-typed');
  // Running, the button turns into "Stop": click again only while it has
  // not (GraphiQL may drop the click that follows typing, as above).
  const live = subscribed(page, 'IdeLive', 30_000);
  const running = page.locator('.graphiql-execute-button[aria-label^="Stop"]');
  for (let attempt = 1; ; attempt++) {
    await page.locator('.graphiql-execute-button').click();
    try {
      await running.waitFor({ timeout: 3_000 });
      break;
    } catch (e) {
      if (attempt === 4) throw e;
    }
  }
  await live; // acknowledged socket, subscribe sent
  await shot(page, 'subscribed');

  // The server registers the subscription just after the subscribe frame:
  // publish until one course shows, each with its own title.
  const response = page.locator('.graphiql-response, .result-window').first();
  let shown = null;
  for (let i = 0; i < 5 && !shown; i++) {
    const title = unique(`IDE live ${i}`);
    const course = await createPublishedCourse(title);
    try {
      await response.filter({ hasText: title }).waitFor({ timeout: 3_000 });
      shown = course;
    } catch {
      // not registered yet; the next course will show
    }
  }
  assert.ok(shown, 'no published course showed in the IDE');
  const text = (await response.innerText()).replace(/\s+/g, ' ');
  assert.match(text, new RegExp(`"coursePublished": \\{ "id": "${shown.id}", "title": "${shown.title}" \\}`), text);
  await shot(page, 'event-shown');
  await running.click(); // stop
  await context.close();
  assertNoPageErrors();
});
