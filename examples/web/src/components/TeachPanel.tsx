import { type FormEvent, type ReactNode, useMemo, useState } from 'react';
import { type CombinedError, useMutation, useQuery } from 'urql';

import { errorField, errorMessage, formatAmount, formatPrice } from '../format';
import type { LessonListFieldsFragment } from '../gql/graphql';
import {
  AddLessonDoc,
  CourseEditorDoc,
  CourseSalesDoc,
  MoveLessonDoc,
  MyTeachingDoc,
  RemoveLessonDoc,
} from '../operations';
import { PublishButton } from './CourseList';
import { CreateCourse } from './CreateCourse';

// The editor looks for its course in the first page (the same query, so one
// request): keep it large.
const PAGE_SIZE = 50;

/**
 * Instructors (and admins): the courses they own, drafts included; a new
 * course; and for the chosen one its lessons (add, reorder, remove) and sales.
 * The API decides who may edit a course (its instructor or an admin); this
 * page only offers the courses the viewer owns.
 */
export function TeachPanel({
  selectedId,
  onSelect,
  onView,
}: {
  selectedId: string | null;
  onSelect: (courseId: string | null) => void;
  onView: (courseId: string) => void;
}) {
  return (
    <section className="teach" data-testid="teach-panel">
      <h1>Teach</h1>
      <TaughtCourses selectedId={selectedId} onSelect={onSelect} />
      {selectedId ? (
        <CourseEditor key={selectedId} courseId={selectedId} onView={onView} onClose={() => onSelect(null)} />
      ) : (
        <CreateCourse onCreated={(c) => onSelect(c.id)} />
      )}
    </section>
  );
}

function TaughtCourses({ selectedId, onSelect }: { selectedId: string | null; onSelect: (id: string) => void }) {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  return (
    <div className="card">
      <h2>My courses as instructor</h2>
      <div data-testid="taught-courses">
        {cursors.map((after, i) => (
          <TaughtPage
            key={after ?? 'first'}
            after={after}
            isLast={i === cursors.length - 1}
            onLoadMore={(next) => setCursors((cs) => [...cs, next])}
            selectedId={selectedId}
            onSelect={onSelect}
          />
        ))}
      </div>
    </div>
  );
}

function TaughtPage(props: {
  after: string | null;
  isLast: boolean;
  onLoadMore: (c: string) => void;
  selectedId: string | null;
  onSelect: (id: string) => void;
}) {
  // An empty list holds no Course or Lesson, and creating one must refetch it.
  const context = useMemo(() => ({ additionalTypenames: ['Course', 'Lesson'] }), []);
  const [{ data, fetching, error }] = useQuery({
    query: MyTeachingDoc,
    variables: { first: PAGE_SIZE, after: props.after },
    requestPolicy: 'cache-and-network',
    context,
  });
  if (error && !data) {
    return (
      <p className="error" role="alert" data-testid="taught-courses-error">
        {errorMessage(error)}
      </p>
    );
  }
  if (!data) return fetching ? <p className="muted">Loading…</p> : null;
  const { edges, pageInfo, totalCount } = data.myCourses;
  return (
    <>
      {props.after === null && (
        <p className="muted" data-testid="taught-courses-total">
          {totalCount === 0 ? 'You teach no course yet.' : totalCount === 1 ? '1 course' : `${totalCount} courses`}
        </p>
      )}
      <ul className="taught">
        {edges.map(({ node }) => (
          <li
            key={node.id}
            className={node.id === props.selectedId ? 'taught-item selected' : 'taught-item'}
            data-testid="taught-course"
            data-course-id={node.id}
          >
            <span>
              <strong data-testid="taught-course-title">{node.title}</strong> · {formatPrice(node.price)}
              {!node.published && <span className="badge draft">draft</span>}
            </span>
            <button type="button" data-testid="taught-course-edit" onClick={() => props.onSelect(node.id)}>
              Edit
            </button>
          </li>
        ))}
      </ul>
      {props.isLast && pageInfo.hasNextPage && pageInfo.endCursor && (
        <button
          type="button"
          className="more"
          onClick={() => pageInfo.endCursor && props.onLoadMore(pageInfo.endCursor)}
        >
          Load more
        </button>
      )}
    </>
  );
}

function CourseEditor({ courseId, onView, onClose }: { courseId: string; onView: (id: string) => void; onClose: () => void }) {
  const context = useMemo(() => ({ additionalTypenames: ['Course', 'Lesson'] }), []);
  const [viewed] = useQuery({
    query: CourseEditorDoc,
    variables: { id: courseId },
    requestPolicy: 'cache-and-network',
    context,
  });
  const [taught] = useQuery({
    query: MyTeachingDoc,
    variables: { first: PAGE_SIZE, after: null },
    requestPolicy: 'cache-and-network',
    context,
  });

  const course =
    viewed.data?.course ?? taught.data?.myCourses.edges.find((e) => e.node.id === courseId)?.node ?? null;
  if (!course) {
    // A just-created course is in neither until myCourses is fetched again.
    const loading = viewed.fetching || taught.fetching || viewed.stale || taught.stale;
    if (loading || !viewed.data || !taught.data) {
      const error = viewed.error ?? taught.error;
      return error && !loading ? (
        <p className="error" role="alert" data-testid="editor-error">
          {errorMessage(error)}
        </p>
      ) : (
        <p className="muted">Loading the course…</p>
      );
    }
    return <p data-testid="editor-missing">This course is gone.</p>;
  }
  const lessons = [...course.lessons].sort((a, b) => a.position - b.position);

  return (
    <div className="card" data-testid="course-editor" data-course-id={course.id}>
      <div className="editor-head">
        <h2 data-testid="editor-title">{course.title}</h2>
        <span>
          {course.published ? (
            <span className="badge owned" data-testid="editor-state">
              published
            </span>
          ) : (
            <>
              <span className="badge draft" data-testid="editor-state">
                draft
              </span>{' '}
              <PublishButton courseId={course.id} />
            </>
          )}
          {course.published && (
            // course(id) shows a draft to admins only.
            <button type="button" className="link" data-testid="editor-view" onClick={() => onView(course.id)}>
              View as a student
            </button>
          )}
          <button type="button" className="link" data-testid="editor-close" onClick={onClose}>
            New course
          </button>
        </span>
      </div>
      <Sales courseId={course.id} />
      <h3>Lessons</h3>
      {lessons.length === 0 ? (
        <p className="muted" data-testid="editor-lessons-empty">
          No lessons yet.
        </p>
      ) : (
        <ol className="editor-lessons" data-testid="editor-lessons">
          {lessons.map((lesson, i) => (
            <EditorLesson key={lesson.id} lesson={lesson} first={i === 0} last={i === lessons.length - 1} />
          ))}
        </ol>
      )}
      <AddLesson courseId={course.id} />
    </div>
  );
}

function EditorLesson({ lesson, first, last }: { lesson: LessonListFieldsFragment; first: boolean; last: boolean }) {
  const [moving, move] = useMutation(MoveLessonDoc);
  const [removing, remove] = useMutation(RemoveLessonDoc);
  // removeLesson answers a Boolean, which names no type: say which cached
  // queries it makes stale (the lesson lists, and the courses holding them).
  const removeContext = useMemo(() => ({ additionalTypenames: ['Lesson', 'Course'] }), []);
  const busy = moving.fetching || removing.fetching;
  const err = moving.error ?? removing.error;
  return (
    <li className="editor-lesson" data-testid="editor-lesson" data-lesson-id={lesson.id} data-position={lesson.position}>
      <span className="grow">
        <span className="muted">{lesson.position}.</span> <span data-testid="editor-lesson-title">{lesson.title}</span>
        {lesson.preview && <span className="badge">preview</span>}
      </span>
      <button
        type="button"
        aria-label={`Move "${lesson.title}" up`}
        disabled={busy || first}
        data-testid="lesson-up"
        onClick={() => void move({ id: lesson.id, position: lesson.position - 1 })}
      >
        ↑
      </button>
      <button
        type="button"
        aria-label={`Move "${lesson.title}" down`}
        disabled={busy || last}
        data-testid="lesson-down"
        onClick={() => void move({ id: lesson.id, position: lesson.position + 1 })}
      >
        ↓
      </button>
      <button
        type="button"
        disabled={busy}
        data-testid="lesson-remove"
        onClick={() => void remove({ id: lesson.id }, removeContext)}
      >
        Remove
      </button>
      {err && (
        <span className="error small" role="alert" data-testid="editor-lesson-error">
          {errorMessage(err)}
        </span>
      )}
    </li>
  );
}

function Sales({ courseId }: { courseId: string }) {
  // Another user's purchase reaches no cache here: the Refresh button asks
  // again. Publishing (a Course) or a purchase in this tab refetch it.
  const context = useMemo(() => ({ additionalTypenames: ['Course', 'Purchase'] }), []);
  const [{ data, fetching, error }, refetch] = useQuery({
    query: CourseSalesDoc,
    variables: { courseId },
    requestPolicy: 'cache-and-network',
    context,
  });
  return (
    <div className="sales-summary" data-testid="course-sales">
      {error && !data ? (
        <span className="error" role="alert" data-testid="course-sales-error">
          {errorMessage(error)}
        </span>
      ) : data ? (
        <span>
          <span data-testid="sales-purchases">
            {data.courseSales.purchases === 1 ? '1 sale' : `${data.courseSales.purchases} sales`}
          </span>{' '}
          · <span data-testid="sales-revenue">{formatAmount(data.courseSales.revenue)}</span> revenue
        </span>
      ) : (
        <span className="muted">Loading sales…</span>
      )}
      <button
        type="button"
        className="link"
        disabled={fetching}
        data-testid="sales-refresh"
        onClick={() => refetch({ requestPolicy: 'network-only' })}
      >
        Refresh
      </button>
    </div>
  );
}

const LESSON_FIELDS = ['title', 'body', 'videoUrl', 'durationMinutes', 'preview'] as const;

/** Shows an error beside the field that BAD_USER_INPUT names, or at the foot of the form. */
function fieldMessage(error: CombinedError | undefined, field: string): ReactNode {
  if (!error || errorField(error) !== field) return null;
  return (
    <span className="error small field-error" role="alert" data-testid={`lesson-${field}-error`}>
      {errorMessage(error)}
    </span>
  );
}

function AddLesson({ courseId }: { courseId: string }) {
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const [videoUrl, setVideoUrl] = useState('');
  const [minutes, setMinutes] = useState('');
  const [preview, setPreview] = useState(false);
  const [formError, setFormError] = useState<string | null>(null);
  const [{ fetching, error }, add] = useMutation(AddLessonDoc);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const m = minutes.trim();
    if (m !== '' && !/^\d+$/.test(m)) {
      setFormError('Duration: a whole number of minutes');
      return;
    }
    setFormError(null);
    const res = await add({
      courseId,
      input: {
        title,
        body,
        videoUrl: videoUrl.trim() || null,
        durationMinutes: m === '' ? null : Number(m),
        preview,
      },
    });
    if (res.data) {
      setTitle('');
      setBody('');
      setVideoUrl('');
      setMinutes('');
      setPreview(false);
    }
  }

  const field = errorField(error);
  const general = formError ?? (error && !(field && (LESSON_FIELDS as readonly string[]).includes(field)) ? errorMessage(error) : null);
  // No required/type="url" here: the API's checks (and its field names) are
  // the ones the form shows.
  return (
    <form onSubmit={submit} data-testid="add-lesson-form" className="stack add-lesson" noValidate>
      <h3>Add a lesson</h3>
      <label>
        Title
        <input data-testid="lesson-title-input" value={title} onChange={(e) => setTitle(e.target.value)} />
        {fieldMessage(error, 'title')}
      </label>
      <label>
        Body
        <textarea data-testid="lesson-body-input" value={body} onChange={(e) => setBody(e.target.value)} rows={4} />
        {fieldMessage(error, 'body')}
      </label>
      <div className="row">
        <label className="grow">
          Video link (optional)
          <input
            data-testid="lesson-video-input"
            value={videoUrl}
            onChange={(e) => setVideoUrl(e.target.value)}
            placeholder="https://…"
          />
          {fieldMessage(error, 'videoUrl')}
        </label>
        <label>
          Minutes (optional)
          <input
            data-testid="lesson-minutes-input"
            inputMode="numeric"
            value={minutes}
            onChange={(e) => setMinutes(e.target.value)}
          />
          {fieldMessage(error, 'durationMinutes')}
        </label>
      </div>
      <label className="checkbox">
        <input
          type="checkbox"
          data-testid="lesson-preview-input"
          checked={preview}
          onChange={(e) => setPreview(e.target.checked)}
        />
        Preview (open to everyone)
      </label>
      {general && (
        <p className="error" role="alert" data-testid="add-lesson-error">
          {general}
        </p>
      )}
      <div>
        <button type="submit" className="primary" disabled={fetching} data-testid="add-lesson-submit">
          Add lesson
        </button>
      </div>
    </form>
  );
}
