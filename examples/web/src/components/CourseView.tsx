import { useMemo, useState } from 'react';
import { useMutation, useQuery } from 'urql';

import type { SessionUser } from '../auth';
import { errorMessage, formatPrice } from '../format';
import type { CourseLessonsQuery, LessonListFieldsFragment } from '../gql/graphql';
import { CompleteLessonDoc, CourseLessonsDoc, LessonDoc } from '../operations';
import { BuyButton } from './CourseList';

type ViewedCourse = NonNullable<CourseLessonsQuery['course']>;

/**
 * A course and its lessons in position order. Titles, positions and previews
 * are public; a lesson that is not a preview opens for its buyers, the course's
 * instructor and admins. The API enforces that rule; the view only avoids
 * asking for what it would refuse, so a locked lesson is never fetched.
 */
export function CourseView({
  courseId,
  user,
  onBack,
  onManage,
}: {
  courseId: string;
  user: SessionUser | null;
  onBack: () => void;
  onManage: (courseId: string) => void;
}) {
  // Lesson and Purchase: completing a lesson or buying the course changes what
  // this view shows (progress, locks), also when there are no lessons yet.
  const context = useMemo(() => ({ additionalTypenames: ['Lesson', 'Purchase'] }), []);
  const [{ data, fetching, error }] = useQuery({
    query: CourseLessonsDoc,
    variables: { id: courseId },
    requestPolicy: 'cache-and-network',
    context,
  });
  const [openId, setOpenId] = useState<string | null>(null);

  if (error && !data) {
    return (
      <p className="error" role="alert" data-testid="course-view-error">
        {errorMessage(error)}
      </p>
    );
  }
  if (!data) return fetching ? <p className="muted">Loading the course…</p> : null;
  const course = data.course;
  if (!course) {
    return (
      <section data-testid="course-view-missing">
        <p>This course does not exist or is not published.</p>
        <button type="button" className="link" onClick={onBack}>
          Back to the courses
        </button>
      </section>
    );
  }

  const teaches = user !== null && (user.role === 'ADMIN' || course.createdBy.id === user.id);
  const canOpenAll = course.viewerHasPurchased || teaches;
  const lessons = [...course.lessons].sort((a, b) => a.position - b.position);

  return (
    <section data-testid="course-view" data-course-id={course.id}>
      <button type="button" className="link back" onClick={onBack} data-testid="course-view-back">
        ← Courses
      </button>
      <div className="card course">
        <div className="course-main">
          <h1 data-testid="course-view-title">{course.title}</h1>
          <p className="description">{course.description}</p>
          <p className="muted small">by {course.createdBy.name}</p>
        </div>
        <div className="course-side">
          <span className="price">{formatPrice(course.price)}</span>
          {!course.published && <span className="badge draft">draft</span>}
          {course.published && !teaches && (
            <BuyButton course={course} signedIn={user !== null} owned={course.viewerHasPurchased} />
          )}
          {teaches && (
            <button type="button" data-testid="manage-course" onClick={() => onManage(course.id)}>
              Edit lessons
            </button>
          )}
        </div>
      </div>
      <Progress course={course} />
      {lessons.length === 0 ? (
        <p className="muted" data-testid="lessons-empty">
          No lessons yet.
        </p>
      ) : (
        <ol className="lessons" data-testid="lesson-list">
          {lessons.map((lesson) => (
            <LessonItem
              key={lesson.id}
              lesson={lesson}
              locked={!lesson.preview && !canOpenAll}
              canComplete={course.viewerHasPurchased}
              open={openId === lesson.id}
              onToggle={() => setOpenId((id) => (id === lesson.id ? null : lesson.id))}
            />
          ))}
        </ol>
      )}
    </section>
  );
}

function Progress({ course }: { course: ViewedCourse }) {
  if (!course.progress) return null;
  const { completedLessons, totalLessons } = course.progress;
  const percent = totalLessons === 0 ? 0 : Math.round((completedLessons / totalLessons) * 100);
  return (
    <div className="progress" data-testid="course-progress" data-completed={completedLessons} data-total={totalLessons}>
      <span>
        {completedLessons} of {totalLessons} lessons completed
      </span>
      <progress max={totalLessons || 1} value={completedLessons} aria-label={`${percent}% completed`} />
    </div>
  );
}

function LessonItem(props: {
  lesson: LessonListFieldsFragment;
  locked: boolean;
  canComplete: boolean;
  open: boolean;
  onToggle: () => void;
}) {
  const { lesson, locked } = props;
  return (
    <li
      className={locked ? 'card lesson locked' : 'card lesson'}
      data-testid="lesson-item"
      data-lesson-id={lesson.id}
      data-position={lesson.position}
      data-locked={locked ? 'true' : 'false'}
    >
      <div className="lesson-head">
        <span className="lesson-title">
          <span className="muted">{lesson.position}.</span> <span data-testid="lesson-title">{lesson.title}</span>
          {lesson.durationMinutes != null && <span className="muted small"> · {lesson.durationMinutes} min</span>}
          {lesson.preview && (
            <span className="badge" data-testid="preview-badge">
              preview
            </span>
          )}
          {lesson.completed && (
            <span className="badge owned" data-testid="completed-badge">
              completed
            </span>
          )}
        </span>
        {locked ? (
          <span className="lock" data-testid="lesson-locked" title="Buy the course to open this lesson">
            🔒 locked
          </span>
        ) : (
          <button type="button" data-testid="lesson-open" aria-expanded={props.open} onClick={props.onToggle}>
            {props.open ? 'Close' : 'Open'}
          </button>
        )}
      </div>
      {!locked && props.open && <LessonBody id={lesson.id} canComplete={props.canComplete} />}
    </li>
  );
}

function LessonBody({ id, canComplete }: { id: string; canComplete: boolean }) {
  const [{ data, fetching, error }] = useQuery({ query: LessonDoc, variables: { id } });
  const [completion, complete] = useMutation(CompleteLessonDoc);

  if (error && !data?.lesson) {
    return (
      <p className="error" role="alert" data-testid="lesson-error">
        {errorMessage(error)}
      </p>
    );
  }
  if (!data) return fetching ? <p className="muted">Loading the lesson…</p> : null;
  const lesson = data.lesson;
  if (!lesson) return <p className="muted">This lesson is gone.</p>;
  return (
    <div className="lesson-body" data-testid="lesson-body">
      <p className="description" data-testid="lesson-text">
        {lesson.body}
      </p>
      {lesson.videoUrl && (
        <p>
          <a href={lesson.videoUrl} target="_blank" rel="noopener noreferrer" data-testid="lesson-video">
            Watch the video
          </a>
        </p>
      )}
      {canComplete && (
        <div className="row">
          {lesson.completed ? (
            <span className="muted small" data-testid="lesson-done">
              You completed this lesson.
            </span>
          ) : (
            <button
              type="button"
              className="primary"
              disabled={completion.fetching}
              data-testid="complete-lesson"
              onClick={() => void complete({ id })}
            >
              Mark complete
            </button>
          )}
          {completion.error && (
            <span className="error small" role="alert" data-testid="complete-error">
              {errorMessage(completion.error)}
            </span>
          )}
        </div>
      )}
    </div>
  );
}
