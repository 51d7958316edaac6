import { useMemo, useState } from 'react';
import { useQuery } from 'urql';

import { errorMessage, formatPrice } from '../format';
import { PurchasedCoursesDoc } from '../operations';

const PAGE_SIZE = 10;

/** The viewer's purchased courses, newest purchase first. */
export function MyCourses() {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  return (
    <section>
      <h1>My courses</h1>
      <div data-testid="my-courses">
        {cursors.map((after, i) => (
          <PurchasedPage
            key={after ?? 'first'}
            after={after}
            isLast={i === cursors.length - 1}
            onLoadMore={(next) => setCursors((cs) => [...cs, next])}
          />
        ))}
      </div>
    </section>
  );
}

function PurchasedPage(props: { after: string | null; isLast: boolean; onLoadMore: (c: string) => void }) {
  const context = useMemo(() => ({ additionalTypenames: ['Course', 'Purchase'] }), []);
  const [{ data, fetching, error }] = useQuery({
    query: PurchasedCoursesDoc,
    variables: { first: PAGE_SIZE, after: props.after },
    requestPolicy: 'cache-and-network',
    context,
  });
  if (error && !data) {
    return (
      <p className="error" role="alert" data-testid="my-courses-error">
        {errorMessage(error)}
      </p>
    );
  }
  if (!data) return fetching ? <p className="muted">Loading…</p> : null;
  const { edges, pageInfo, totalCount } = data.purchasedCourses;
  return (
    <>
      {props.after === null && (
        <p className="muted" data-testid="my-courses-total">
          {totalCount === 0 ? 'You have not bought any course yet.' : `${totalCount} purchased`}
        </p>
      )}
      <ul className="courses">
        {edges.map(({ node }) => (
          <li key={node.id} className="card course" data-testid="my-course-item" data-course-id={node.id}>
            <div className="course-main">
              <h2 data-testid="my-course-title">{node.title}</h2>
              <p className="description">{node.description}</p>
            </div>
            <div className="course-side">
              <span className="price">{formatPrice(node.price)}</span>
            </div>
          </li>
        ))}
      </ul>
      {props.isLast && pageInfo.hasNextPage && pageInfo.endCursor && (
        <button
          type="button"
          className="more"
          data-testid="my-courses-load-more"
          onClick={() => pageInfo.endCursor && props.onLoadMore(pageInfo.endCursor)}
        >
          Load more
        </button>
      )}
    </>
  );
}
