// Lessons (issue 12): the lesson view for visitors and buyers, and the
// instructor page. The API's own e2e tests prove its rules; these prove what
// the UI shows and offers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import {
  API_URL,
  APP_URL,
  apiLogin,
  assertNoPageErrors,
  createCourseWithLessons,
  createInstructor,
  createUser,
  errorCode,
  gql,
  launchBrowser,
  newPage,
  screenshotter,
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

/** A published course of a new instructor: a preview lesson, then two that only buyers open. */
async function courseWithLessons(label, price = 1500) {
  const teacher = await createInstructor('teacher');
  const token = await apiLogin(teacher);
  const secret = unique('only-for-buyers');
  const course = await createCourseWithLessons(token, {
    title: unique(label),
    price,
    lessons: [
      { title: 'Welcome', body: 'Everyone may read this preview.', durationMinutes: 3, preview: true },
      { title: 'The first real lesson', body: `Bought text ${secret}.`, videoUrl: 'https://video.example.com/1' },
      { title: 'The second real lesson', body: `More bought text ${secret}.`, durationMinutes: 12 },
    ],
  });
  return { teacher, token, course, secret };
}

/** Every response body from the API that the page received, to check what it was sent. */
function recordApiResponses(page) {
  const bodies = [];
  page.on('response', async (res) => {
    if (!res.url().startsWith(API_URL)) return;
    try {
      bodies.push(await res.text());
    } catch {
      // a preflight or a response the page no longer holds
    }
  });
  return bodies;
}

async function openCourseFromCatalogue(page, courseId) {
  const item = page.locator(`[data-testid="course-item"][data-course-id="${courseId}"]`);
  await item.getByTestId('open-course').click();
  await page.locator(`[data-testid="course-view"][data-course-id="${courseId}"]`).waitFor();
}

async function lessonTitles(page, testId, titleTestId) {
  return page.getByTestId(testId).evaluateAll(
    (els, t) => els.map((e) => e.querySelector(`[data-testid="${t}"]`)?.textContent ?? ''),
    titleTestId,
  );
}

test('an anonymous visitor sees every lesson title, locked lessons without a body, and opens the preview', { timeout: 120_000 }, async () => {
  const shot = screenshotter('lessons-anonymous');
  const { course, secret } = await courseWithLessons('Preview course');

  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await newPage(context, 'visitor');
  const responses = recordApiResponses(page);
  await page.goto(APP_URL);
  await page.getByTestId('signed-out').waitFor();
  await openCourseFromCatalogue(page, course.id);

  const items = page.getByTestId('lesson-item');
  await items.nth(2).waitFor();
  assert.deepEqual(await lessonTitles(page, 'lesson-item', 'lesson-title'), [
    'Welcome',
    'The first real lesson',
    'The second real lesson',
  ]);
  assert.deepEqual(
    await items.evaluateAll((els) => els.map((e) => [e.dataset.position, e.dataset.locked])),
    [
      ['1', 'false'],
      ['2', 'true'],
      ['3', 'true'],
    ],
  );
  // Locked: a lock and no way to open them; no progress for a visitor.
  for (const i of [1, 2]) {
    await items.nth(i).getByTestId('lesson-locked').waitFor();
    assert.equal(await items.nth(i).getByTestId('lesson-open').count(), 0);
  }
  assert.equal(await page.getByTestId('course-progress').count(), 0);
  await shot(page, 'locked-and-preview');

  // The preview opens, and offers no "mark complete" to a visitor.
  await items.nth(0).getByTestId('lesson-open').click();
  const body = items.nth(0).getByTestId('lesson-text');
  await body.waitFor();
  assert.equal(await body.innerText(), 'Everyone may read this preview.');
  assert.equal(await page.getByTestId('complete-lesson').count(), 0);
  assert.equal(await page.getByTestId('lesson-body').count(), 1);
  await shot(page, 'preview-open');

  // Nothing the visitor may not read reached the page.
  assert.ok(responses.length > 0, 'the page talked to the API');
  assert.ok(!responses.some((r) => r.includes(secret)), 'a locked lesson body was sent to the page');
  assert.ok(!(await page.content()).includes(secret));

  await context.close();
  assertNoPageErrors();
});

test('a buyer opens a lesson, marks it complete and sees the progress', { timeout: 120_000 }, async () => {
  const shot = screenshotter('lessons-buyer');
  const { course, secret } = await courseWithLessons('Course to learn', 2200);
  const buyer = await createUser('learner');

  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await newPage(context, 'buyer');
  await page.goto(APP_URL);
  await page.getByTestId('signed-out').waitFor();
  await uiLogin(page, buyer);
  await openCourseFromCatalogue(page, course.id);

  // Before buying: locked, and no progress.
  const items = page.getByTestId('lesson-item');
  await items.nth(2).getByTestId('lesson-locked').waitFor();
  assert.equal(await page.getByTestId('course-progress').count(), 0);

  // Buying from the course page unlocks the lessons.
  await page.getByTestId('course-view').getByTestId('buy-button').click();
  await page.getByTestId('course-view').getByTestId('owned-badge').waitFor();
  const progress = page.getByTestId('course-progress');
  await progress.waitFor();
  assert.match(await progress.innerText(), /0 of 3 lessons completed/);
  assert.deepEqual(
    await items.evaluateAll((els) => els.map((e) => e.dataset.locked)),
    ['false', 'false', 'false'],
  );
  await shot(page, 'bought');

  // Open the second lesson: its body and video link.
  const second = items.nth(1);
  await second.getByTestId('lesson-open').click();
  await second.getByTestId('lesson-text').waitFor();
  assert.equal(await second.getByTestId('lesson-text').innerText(), `Bought text ${secret}.`);
  assert.equal(await second.getByTestId('lesson-video').getAttribute('href'), 'https://video.example.com/1');
  await shot(page, 'lesson-open');

  // Mark it complete: the badge, the progress.
  await second.getByTestId('complete-lesson').click();
  await second.getByTestId('completed-badge').waitFor();
  await second.getByTestId('lesson-done').waitFor();
  await page.locator('[data-testid="course-progress"][data-completed="1"]').waitFor();
  assert.match(await progress.innerText(), /1 of 3 lessons completed/);
  assert.equal(await items.nth(0).getByTestId('completed-badge').count(), 0);
  await shot(page, 'completed');

  // It is stored, not just shown: after a reload (a new session from the cookie).
  await page.reload();
  await page.getByTestId('current-user').waitFor();
  await openCourseFromCatalogue(page, course.id);
  await page.locator('[data-testid="course-progress"][data-completed="1"][data-total="3"]').waitFor();
  await items.nth(1).getByTestId('completed-badge').waitFor();

  await context.close();
  assertNoPageErrors();
});

test('an instructor creates a course, adds, reorders and removes lessons, and sees a sale', { timeout: 180_000 }, async () => {
  const shot = screenshotter('lessons-instructor');
  const teacher = await createInstructor('teacher');
  const title = unique('Taught course');

  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await newPage(context, 'instructor');
  await page.goto(APP_URL);
  await page.getByTestId('signed-out').waitFor();
  // A plain user has no instructor page.
  assert.equal(await page.getByTestId('nav-teach').count(), 0);
  await uiLogin(page, teacher);
  assert.equal(await page.getByTestId('nav-admin').count(), 0);
  await page.getByTestId('nav-teach').click();
  await page.getByTestId('taught-courses-total').waitFor();

  // A new course: a draft, owned by the instructor, opened in the editor.
  await page.getByTestId('course-title-input').fill(title);
  await page.getByTestId('course-description-input').fill('Made on the instructor page.');
  await page.getByTestId('course-price-input').fill('12');
  await page.getByTestId('create-course-submit').click();
  const editor = page.getByTestId('course-editor');
  await editor.getByTestId('editor-title').filter({ hasText: title }).waitFor();
  assert.equal(await editor.getByTestId('editor-state').innerText(), 'draft');
  const listed = page.locator('[data-testid="taught-course"]').filter({ hasText: title });
  await listed.waitFor();
  const courseId = await editor.getAttribute('data-course-id');
  assert.equal(await listed.getAttribute('data-course-id'), courseId);
  await editor.getByTestId('editor-lessons-empty').waitFor();

  // The API's validation error is shown beside the field it names.
  await page.getByTestId('lesson-title-input').fill('Getting started');
  await page.getByTestId('lesson-body-input').fill('The first lesson.');
  await page.getByTestId('lesson-video-input').fill('ftp://files.example.com/video');
  await page.getByTestId('add-lesson-submit').click();
  const videoError = page.getByTestId('lesson-videoUrl-error');
  await videoError.waitFor();
  assert.match(await videoError.innerText(), /videoUrl|url/i);
  assert.equal(await editor.getByTestId('editor-lesson').count(), 0);
  await shot(page, 'field-error');

  // Two lessons (and a third, to remove).
  await page.getByTestId('lesson-video-input').fill('https://video.example.com/start');
  await page.getByTestId('add-lesson-submit').click();
  await editor.getByTestId('editor-lesson').first().waitFor();
  assert.equal(await videoError.count(), 0);
  assert.equal(await page.getByTestId('lesson-title-input').inputValue(), '');
  for (const [t, preview] of [
    ['Going further', true],
    ['A lesson to remove', false],
  ]) {
    const before = await editor.getByTestId('editor-lesson').count();
    await page.getByTestId('lesson-title-input').fill(t);
    await page.getByTestId('lesson-body-input').fill(`${t}: the text.`);
    await page.getByTestId('lesson-minutes-input').fill('7');
    if (preview) await page.getByTestId('lesson-preview-input').check();
    await page.getByTestId('add-lesson-submit').click();
    await editor.getByTestId('editor-lesson').nth(before).waitFor();
  }
  const editorTitles = () => lessonTitles(page, 'editor-lesson', 'editor-lesson-title');
  assert.deepEqual(await editorTitles(), ['Getting started', 'Going further', 'A lesson to remove']);
  await shot(page, 'three-lessons');

  // Remove the third; then move the second up.
  await editor.getByTestId('editor-lesson').nth(2).getByTestId('lesson-remove').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="editor-lesson"]').length === 2);
  assert.deepEqual(await editorTitles(), ['Getting started', 'Going further']);
  assert.equal(await editor.getByTestId('editor-lesson').first().getByTestId('lesson-up').isDisabled(), true);
  await editor.getByTestId('editor-lesson').nth(1).getByTestId('lesson-up').click();
  await page.waitForFunction(
    () => document.querySelector('[data-testid="editor-lesson"] [data-testid="editor-lesson-title"]')?.textContent === 'Going further',
  );
  assert.deepEqual(await editorTitles(), ['Going further', 'Getting started']);
  assert.deepEqual(
    await editor.getByTestId('editor-lesson').evaluateAll((els) => els.map((e) => e.dataset.position)),
    ['1', '2'],
  );
  // The order is the API's, not just the page's (a draft: course(id) shows
  // it to admins only, myCourses to its instructor).
  const token = await apiLogin(teacher);
  const { myCourses } = await gql('{ myCourses(first: 50) { edges { node { id lessons { title position } } } } }', {}, token);
  const stored = myCourses.edges.find((e) => e.node.id === courseId)?.node;
  assert.ok(stored, 'the draft is among myCourses');
  assert.deepEqual(
    stored.lessons.map((l) => [l.position, l.title]).sort(),
    [
      [1, 'Going further'],
      [2, 'Getting started'],
    ],
  );
  await shot(page, 'reordered');

  // Publish; no sales yet.
  await editor.getByTestId('publish-button').click();
  await editor.getByTestId('editor-state').filter({ hasText: 'published' }).waitFor();
  await editor.getByTestId('sales-purchases').filter({ hasText: '0 sales' }).waitFor();

  // Another user buys it; the instructor refreshes the sales.
  const buyer = await createUser('buyer');
  const { purchaseCourse } = await gql(
    'mutation($c: ID!) { purchaseCourse(courseId: $c) { pricePaid } }',
    { c: courseId },
    await apiLogin(buyer),
  );
  assert.equal(purchaseCourse.pricePaid, 1200);
  await editor.getByTestId('sales-refresh').click();
  await editor.getByTestId('sales-purchases').filter({ hasText: '1 sale' }).waitFor();
  assert.equal(await editor.getByTestId('sales-revenue').innerText(), '$12.00');
  await shot(page, 'sale');

  // As its instructor, the course page opens every lesson and offers the editor.
  await editor.getByTestId('editor-view').click();
  const view = page.locator(`[data-testid="course-view"][data-course-id="${courseId}"]`);
  await view.waitFor();
  assert.deepEqual(await lessonTitles(page, 'lesson-item', 'lesson-title'), ['Going further', 'Getting started']);
  assert.deepEqual(
    await page.getByTestId('lesson-item').evaluateAll((els) => els.map((e) => e.dataset.locked)),
    ['false', 'false'],
  );
  await view.getByTestId('manage-course').waitFor();

  await context.close();
  assertNoPageErrors();
});

test('another instructor gets no edit controls for a course they do not own, and a forced edit is refused', { timeout: 120_000 }, async () => {
  const shot = screenshotter('lessons-other-instructor');
  const { course, token: ownerToken } = await courseWithLessons('Someone else’s course');
  const other = await createInstructor('rival');

  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await newPage(context, 'rival');
  await page.goto(APP_URL);
  await page.getByTestId('signed-out').waitFor();
  await uiLogin(page, other);

  // Not among their courses.
  await page.getByTestId('nav-teach').click();
  await page.getByTestId('taught-courses-total').waitFor();
  assert.equal(await page.locator(`[data-testid="taught-course"][data-course-id="${course.id}"]`).count(), 0);
  assert.equal(await page.getByTestId('course-editor').count(), 0);

  // Its page: locked lessons, no editor link, no edit control anywhere.
  await page.getByTestId('nav-courses').click();
  await openCourseFromCatalogue(page, course.id);
  await page.getByTestId('lesson-item').nth(2).getByTestId('lesson-locked').waitFor();
  assert.equal(await page.getByTestId('manage-course').count(), 0);
  for (const control of ['lesson-up', 'lesson-down', 'lesson-remove', 'add-lesson-form', 'publish-button']) {
    assert.equal(await page.getByTestId(control).count(), 0, control);
  }
  await shot(page, 'no-edit-controls');

  // Forced, with the rival's own token: refused, and nothing changed.
  const rivalToken = await apiLogin(other);
  const [first, second] = [course.lessons[0], course.lessons[1]];
  assert.equal(
    await errorCode(
      'mutation($c: ID!, $in: LessonInput!) { addLesson(courseId: $c, input: $in) { id } }',
      { c: course.id, in: { title: 'Planted', body: 'Not yours.' } },
      rivalToken,
    ),
    'FORBIDDEN',
  );
  assert.equal(
    await errorCode('mutation($id: ID!) { moveLesson(id: $id, position: 3) { id } }', { id: first.id }, rivalToken),
    'FORBIDDEN',
  );
  assert.equal(
    await errorCode('mutation($id: ID!) { removeLesson(id: $id) }', { id: second.id }, rivalToken),
    'FORBIDDEN',
  );
  const { course: after } = await gql(
    'query($id: ID!) { course(id: $id) { lessons { id title position } } }',
    { id: course.id },
    ownerToken,
  );
  assert.deepEqual(
    after.lessons.map((l) => [l.position, l.title]).sort(),
    [
      [1, 'Welcome'],
      [2, 'The first real lesson'],
      [3, 'The second real lesson'],
    ],
  );
  // The page still shows the course as it was.
  await page.reload();
  await page.getByTestId('current-user').waitFor();
  await openCourseFromCatalogue(page, course.id);
  await page.getByTestId('lesson-item').nth(2).waitFor();
  assert.deepEqual(await lessonTitles(page, 'lesson-item', 'lesson-title'), [
    'Welcome',
    'The first real lesson',
    'The second real lesson',
  ]);

  await context.close();
  assertNoPageErrors();
});
