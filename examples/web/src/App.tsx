import { type ReactNode, useCallback, useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { Provider } from 'urql';

import { getAuthState, logout, restoreSession, subscribeAuth } from './auth';
import { createUrqlClient, getWsEpoch, subscribeWsEpoch } from './client';
import { AdminPanel } from './components/AdminPanel';
import { AuthForm } from './components/AuthForm';
import { CourseList } from './components/CourseList';
import { LiveBanner, type PublishedCourse, CoursePublishedListener } from './components/LiveBanner';
import { MyCourses } from './components/MyCourses';

type View = 'courses' | 'mine' | 'admin' | 'login' | 'signup';

export function App() {
  const auth = useSyncExternalStore(subscribeAuth, getAuthState);
  const wsEpoch = useSyncExternalStore(subscribeWsEpoch, getWsEpoch);
  const [view, setView] = useState<View>('courses');
  const [published, setPublished] = useState<PublishedCourse | null>(null);
  const [listVersion, setListVersion] = useState(0);

  useEffect(() => {
    void restoreSession();
  }, []);

  // One urql client (and so one document cache) per signed-in user: nothing
  // cached for one user is ever shown to the next.
  const userKey = auth.user?.id ?? 'anonymous';
  const client = useMemo(() => createUrqlClient(), [userKey]);

  // Leave views the viewer may no longer see (signed out here or in another tab).
  useEffect(() => {
    if (auth.status === 'signedOut' && (view === 'mine' || view === 'admin')) setView('courses');
    if (auth.status === 'signedIn' && (view === 'login' || view === 'signup')) setView('courses');
    if (auth.status === 'signedIn' && view === 'admin' && auth.user.role !== 'ADMIN') setView('courses');
  }, [auth, view]);

  const onPublished = useCallback((course: PublishedCourse) => {
    setPublished(course);
    setListVersion((v) => v + 1); // back to the first page, where the new course is
  }, []);

  if (auth.status === 'loading') {
    return (
      <main className="page" data-testid="app-loading">
        <p className="muted">Loading…</p>
      </main>
    );
  }

  const user = auth.user;
  const isAdmin = user?.role === 'ADMIN';

  return (
    <Provider value={client}>
      <CoursePublishedListener key={`published-${wsEpoch}`} onPublished={onPublished} />
      <header className="topbar">
        <strong className="brand">coursehub</strong>
        <nav>
          <NavButton view="courses" current={view} onClick={setView} testId="nav-courses">
            Courses
          </NavButton>
          {user && (
            <NavButton view="mine" current={view} onClick={setView} testId="nav-my-courses">
              My courses
            </NavButton>
          )}
          {isAdmin && (
            <NavButton view="admin" current={view} onClick={setView} testId="nav-admin">
              Admin
            </NavButton>
          )}
        </nav>
        <div className="who">
          {user ? (
            <>
              <span data-testid="current-user">
                {user.name}
                {isAdmin && <span className="badge">admin</span>}
              </span>
              <button type="button" data-testid="logout-button" onClick={() => void logout()}>
                Log out
              </button>
            </>
          ) : (
            <>
              <span data-testid="signed-out" className="muted">
                Not signed in
              </span>
              <button type="button" data-testid="nav-login" onClick={() => setView('login')}>
                Log in
              </button>
              <button type="button" data-testid="nav-signup" onClick={() => setView('signup')}>
                Sign up
              </button>
            </>
          )}
        </div>
      </header>

      <LiveBanner course={published} onDismiss={() => setPublished(null)} />
      {auth.status === 'signedOut' && auth.ended && (
        <div className="notice" role="alert" data-testid="session-ended">
          Your session has ended. Please log in again.
        </div>
      )}

      <main className="page">
        {view === 'login' && !user && <AuthForm mode="login" onSwitch={() => setView('signup')} />}
        {view === 'signup' && !user && <AuthForm mode="signup" onSwitch={() => setView('login')} />}
        {view === 'courses' && <CourseList key={`list-${listVersion}`} user={user} />}
        {view === 'mine' && user && <MyCourses />}
        {view === 'admin' && isAdmin && <AdminPanel wsEpoch={wsEpoch} />}
      </main>
    </Provider>
  );
}

function NavButton(props: {
  view: View;
  current: View;
  onClick: (v: View) => void;
  testId: string;
  children: ReactNode;
}) {
  const active = props.view === props.current;
  return (
    <button
      type="button"
      className={active ? 'nav active' : 'nav'}
      aria-current={active ? 'page' : undefined}
      data-testid={props.testId}
      onClick={() => props.onClick(props.view)}
    >
      {props.children}
    </button>
  );
}
