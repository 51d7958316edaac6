import { useEffect } from 'react';
import { useSubscription } from 'urql';

import { formatPrice } from '../format';
import { CoursePublishedDoc } from '../operations';

export interface PublishedCourse {
  id: string;
  title: string;
  price: number;
}

/**
 * Listens to coursePublished (public: signed in or not). Rendered with a key
 * that changes with the WebSocket client, so it re-subscribes on a new socket.
 */
export function CoursePublishedListener({ onPublished }: { onPublished: (c: PublishedCourse) => void }) {
  const [result] = useSubscription({ query: CoursePublishedDoc });
  useEffect(() => {
    if (result.data) onPublished(result.data.coursePublished);
  }, [result.data, onPublished]);
  return null;
}

export function LiveBanner({ course, onDismiss }: { course: PublishedCourse | null; onDismiss: () => void }) {
  if (!course) return null;
  return (
    <div className="banner" role="status" aria-live="polite" data-testid="live-banner">
      <span>
        New course published: <strong data-testid="live-banner-title">{course.title}</strong> (
        {formatPrice(course.price)})
      </span>
      <button type="button" className="link" onClick={onDismiss} aria-label="Dismiss">
        ×
      </button>
    </div>
  );
}
