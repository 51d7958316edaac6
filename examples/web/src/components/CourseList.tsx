import { useMemo, useState } from 'react';
import { useMutation, useQuery } from 'urql';

import type { SessionUser } from '../auth';
import { errorMessage, formatPrice } from '../format';
import type { CourseFieldsFragment } from '../gql/graphql';
import { CoursesDoc, OwnedCourseIdsDoc, PublishCourseDoc, PurchaseCourseDoc } from '../operations';

const PAGE_SIZE = 5;

/** The catalogue, newest first, one page at a time ("load more"). */
export function CourseList({ user, onOpen }: { user: SessionUser | null; onOpen: (courseId: string) => void }) {
  // One entry per loaded page: the cursor it starts after (null: the first).
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const owned = useOwnedCourseIds(user !== null);

  return (
    <section>
      <h1>Courses</h1>
      <div data-testid="course-list">
        {cursors.map((after, i) => (
          <CoursePage
            key={after ?? 'first'}
            after={after}
            isLast={i === cursors.length - 1}
            onLoadMore={(next) => setCursors((cs) => [...cs, next])}
            user={user}
            owned={owned}
            onOpen={onOpen}
          />
        ))}
      </div>
    </section>
  );
}

function useOwnedCourseIds(signedIn: boolean): Set<string> {
  // additionalTypenames: an empty result holds no Course, so tell the
  // document cache that buying one (a Course in the result) invalidates it.
  const context = useMemo(() => ({ additionalTypenames: ['Course', 'Purchase'] }), []);
  const [result] = useQuery({ query: OwnedCourseIdsDoc, pause: !signedIn, context });
  return useMemo(
    () => new Set(result.data?.purchasedCourses.edges.map((e) => e.node.id) ?? []),
    [result.data],
  );
}

function CoursePage(props: {
  after: string | null;
  isLast: boolean;
  onLoadMore: (cursor: string) => void;
  user: SessionUser | null;
  owned: Set<string>;
  onOpen: (courseId: string) => void;
}) {
  const context = useMemo(() => ({ additionalTypenames: ['Course'] }), []);
  const [result] = useQuery({
    query: CoursesDoc,
    variables: { first: PAGE_SIZE, after: props.after },
    requestPolicy: 'cache-and-network',
    context,
  });
  const { data, fetching, error } = result;

  if (error && !data) {
    return (
      <p className="error" role="alert" data-testid="courses-error">
        {errorMessage(error)}
      </p>
    );
  }
  if (!data) return fetching ? <p className="muted">Loading courses…</p> : null;

  const { edges, pageInfo, totalCount } = data.courses;
  return (
    <>
      {props.after === null && (
        <p className="muted" data-testid="courses-total">
          {totalCount === 1 ? '1 course' : `${totalCount} courses`}
        </p>
      )}
      {props.after === null && edges.length === 0 && <p data-testid="courses-empty">No courses yet.</p>}
      <ul className="courses">
        {edges.map(({ node }) => (
          <CourseItem
            key={node.id}
            course={node}
            user={props.user}
            owned={props.owned.has(node.id)}
            onOpen={props.onOpen}
          />
        ))}
      </ul>
      {props.isLast && pageInfo.hasNextPage && pageInfo.endCursor && (
        <button
          type="button"
          className="more"
          data-testid="load-more"
          onClick={() => pageInfo.endCursor && props.onLoadMore(pageInfo.endCursor)}
        >
          Load more
        </button>
      )}
    </>
  );
}

function CourseItem({
  course,
  user,
  owned,
  onOpen,
}: {
  course: CourseFieldsFragment;
  user: SessionUser | null;
  owned: boolean;
  onOpen: (courseId: string) => void;
}) {
  return (
    <li className="card course" data-testid="course-item" data-course-id={course.id}>
      <div className="course-main">
        <h2 data-testid="course-title">{course.title}</h2>
        <p className="description">{course.description}</p>
        <button type="button" className="link" data-testid="open-course" onClick={() => onOpen(course.id)}>
          Lessons →
        </button>
      </div>
      <div className="course-side">
        <span className="price" data-testid="course-price">
          {formatPrice(course.price)}
        </span>
        {!course.published && (
          <span className="badge draft" data-testid="draft-badge">
            draft
          </span>
        )}
        {user?.role === 'ADMIN' && !course.published && <PublishButton courseId={course.id} />}
        {course.published && <BuyButton course={course} signedIn={user !== null} owned={owned} />}
      </div>
    </li>
  );
}

export function BuyButton({ course, signedIn, owned }: { course: CourseFieldsFragment; signedIn: boolean; owned: boolean }) {
  const [{ data, fetching, error }, purchase] = useMutation(PurchaseCourseDoc);
  if (!signedIn) return <span className="muted small">Log in to buy</span>;
  if (owned || data) {
    return (
      <span className="badge owned" data-testid="owned-badge">
        purchased{data ? ` for ${formatPrice(data.purchaseCourse.pricePaid)}` : ''}
      </span>
    );
  }
  return (
    <>
      <button
        type="button"
        className="primary"
        disabled={fetching}
        data-testid="buy-button"
        onClick={() => void purchase({ courseId: course.id })}
      >
        Buy
      </button>
      {error && (
        <span className="error small" role="alert" data-testid="buy-error">
          {errorMessage(error)}
        </span>
      )}
    </>
  );
}

export function PublishButton({
  courseId,
  onPublished,
}: {
  courseId: string;
  onPublished?: (course: CourseFieldsFragment) => void;
}) {
  const [{ fetching, error }, publish] = useMutation(PublishCourseDoc);
  return (
    <>
      <button
        type="button"
        disabled={fetching}
        data-testid="publish-button"
        onClick={() =>
          void publish({ id: courseId }).then((r) => {
            if (r.data) onPublished?.(r.data.updateCourse);
          })
        }
      >
        Publish
      </button>
      {error && (
        <span className="error small" role="alert" data-testid="publish-error">
          {errorMessage(error)}
        </span>
      )}
    </>
  );
}
