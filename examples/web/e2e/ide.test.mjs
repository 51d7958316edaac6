// The GraphQL IDE that the API serves at GET / (GraphiQL).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { assertNoPageErrors, IDE_URL, launchBrowser, newPage, screenshotter } from './helpers.mjs';

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
