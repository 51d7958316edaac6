import { type ReactNode, useCallback, useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import { Provider } from 'urql';

import { getAuthState, logout, restoreSession, subscribeAuth } from './auth';
import { createUrqlClient, getWsEpoch, subscribeWsEpoch } from './client';
import type { Role } from './gql/graphql';
import { AdminPanel } from './components/AdminPanel';
import { AuthForm } from './components/AuthForm';
import { CourseList } from './components/CourseList';
import { CourseView } from './components/CourseView';
import { LiveBanner, type PublishedCourse, CoursePublishedListener } from './components/LiveBanner';
import { MyCourses } from './components/MyCourses';
import { ForgotPassword, ResetPassword, VerifyEmail, VerifyNotice } from './components/Recovery';
import { TeachPanel } from './components/TeachPanel';

type View = 'courses' | 'course' | 'mine' | 'teach' | 'admin' | 'login' | 'signup' | 'forgot' | 'reset' | 'verify';

/**
 * The mailed links open /reset-password?token=… and /verify-email?token=…
 * (the API's APP_URL). The token is taken out of the address bar at once, so
 * that it stays out of the history and of Referer headers.
 */
function initialRoute(): { view: View; token: string } {
  const { pathname, search } = window.location;
  const token = new URLSearchParams(search).get('token') ?? '';
  const view: View | null = pathname === '/reset-password' ? 'reset' : pathname === '/verify-email' ? 'verify' : null;
  if (!view) return { view: 'courses', token: '' };
  window.history.replaceState(null, '', '/');
  return { view, token };
}

export function App() {
  const auth = useSyncExternalStore(subscribeAuth, getAuthState);
  const wsEpoch = useSyncExternalStore(subscribeWsEpoch, getWsEpoch);
  const [route] = useState(initialRoute);
  const [view, setView] = useState<View>(route.view);
  const [published, setPublished] = useState<PublishedCourse | null>(null);
  const [listVersion, setListVersion] = useState(0);
  // The course the lesson view shows, and the one the instructor page edits.
  const [courseId, setCourseId] = useState<string | null>(null);
  const [editingId, setEditingId] = useState<string | null>(null);

  useEffect(() => {
    void restoreSession();
  }, []);

  // One urql client (and so one document cache) per signed-in user: nothing
  // cached for one user is ever shown to the next.
  const userKey = auth.user?.id ?? 'anonymous';
  const client = useMemo(() => createUrqlClient(), [userKey]);
  // Nor is the course one user was editing opened in the next one's editor.
  useEffect(() => setEditingId(null), [userKey]);

  // Leave views the viewer may no longer see (signed out here or in another tab).
  useEffect(() => {
    if (auth.status === 'signedOut' && (view === 'mine' || view === 'admin' || view === 'teach')) setView('courses');
    if (auth.status === 'signedIn' && (view === 'login' || view === 'signup' || view === 'forgot')) setView('courses');
    if (auth.status === 'signedIn' && view === 'admin' && auth.user.role !== 'ADMIN') setView('courses');
    if (auth.status === 'signedIn' && view === 'teach' && !canTeach(auth.user.role)) setView('courses');
    if (view === 'course' && courseId === null) setView('courses');
  }, [auth, view, courseId]);

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
  const isTeacher = user !== null && canTeach(user.role);
  const openCourse = (id: string) => {
    setCourseId(id);
    setView('course');
  };
  const editCourse = (id: string | null) => {
    setEditingId(id);
    setView('teach');
  };

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
          {isTeacher && (
            <NavButton view="teach" current={view} onClick={setView} testId="nav-teach">
              Teach
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
                {user.role === 'INSTRUCTOR' && <span className="badge">instructor</span>}
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
      {user && user.emailVerified === false && view !== 'verify' && <VerifyNotice />}
      {auth.status === 'signedOut' && auth.ended && view !== 'reset' && (
        <div className="notice" role="alert" data-testid="session-ended">
          Your session has ended. Please log in again.
        </div>
      )}

      <main className="page">
        {view === 'login' && !user && (
          <AuthForm mode="login" onSwitch={() => setView('signup')} onForgot={() => setView('forgot')} />
        )}
        {view === 'forgot' && !user && <ForgotPassword onBack={() => setView('login')} />}
        {view === 'reset' && <ResetPassword token={route.token} onDone={() => setView('courses')} />}
        {view === 'verify' && <VerifyEmail token={route.token} onDone={() => setView('courses')} />}
        {view === 'signup' && !user && <AuthForm mode="signup" onSwitch={() => setView('login')} />}
        {view === 'courses' && <CourseList key={`list-${listVersion}`} user={user} onOpen={openCourse} />}
        {view === 'course' && courseId && (
          <CourseView courseId={courseId} user={user} onBack={() => setView('courses')} onManage={editCourse} />
        )}
        {view === 'teach' && isTeacher && <TeachPanel selectedId={editingId} onSelect={editCourse} onView={openCourse} />}
        {view === 'mine' && user && <MyCourses />}
        {view === 'admin' && isAdmin && <AdminPanel wsEpoch={wsEpoch} />}
      </main>
    </Provider>
  );
}

/** Instructors teach their own courses; admins may edit any. */
function canTeach(role: Role): boolean {
  return role === 'INSTRUCTOR' || role === 'ADMIN';
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
