// Every operation the app sends. GraphQL Code Generator (client preset) reads
// the graphql(`...`) calls below and generates their result and variable types
// into src/gql/, so `tsc` checks each use against ../../schema.graphqls.
import { graphql } from './gql';

export const SessionUserFields = graphql(`
  fragment SessionUserFields on User {
    id
    name
    email
    role
    emailVerified
  }
`);

export const SignupDoc = graphql(`
  mutation Signup($input: SignupInput!) {
    signup(input: $input, delivery: REFRESH_COOKIE) {
      accessToken
      expiresAt
      user {
        ...SessionUserFields
      }
    }
  }
`);

export const LoginDoc = graphql(`
  mutation Login($input: LoginInput!) {
    login(input: $input, delivery: REFRESH_COOKIE) {
      accessToken
      expiresAt
      user {
        ...SessionUserFields
      }
    }
  }
`);

export const RefreshSessionDoc = graphql(`
  mutation RefreshSession {
    refreshSession(delivery: REFRESH_COOKIE) {
      accessToken
      expiresAt
      user {
        ...SessionUserFields
      }
    }
  }
`);

export const RequestPasswordResetDoc = graphql(`
  mutation RequestPasswordReset($email: String!) {
    requestPasswordReset(email: $email)
  }
`);

export const ResetPasswordDoc = graphql(`
  mutation ResetPassword($token: String!, $newPassword: String!) {
    resetPassword(token: $token, newPassword: $newPassword, delivery: REFRESH_COOKIE) {
      accessToken
      expiresAt
      user {
        ...SessionUserFields
      }
    }
  }
`);

export const RequestEmailVerificationDoc = graphql(`
  mutation RequestEmailVerification {
    requestEmailVerification
  }
`);

export const VerifyEmailDoc = graphql(`
  mutation VerifyEmail($token: String!) {
    verifyEmail(token: $token)
  }
`);

export const LogoutDoc = graphql(`
  mutation Logout {
    logout
  }
`);

export const CourseFields = graphql(`
  fragment CourseFields on Course {
    id
    title
    description
    price
    imageLink
    published
    createdAt
  }
`);

export const CoursesDoc = graphql(`
  query Courses($first: Int!, $after: String) {
    courses(first: $first, after: $after) {
      totalCount
      edges {
        cursor
        node {
          ...CourseFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

// The catalogue's query asks for no per-viewer field (such as
// Course.viewerHasPurchased, which the lesson view uses), so the list marks
// owned courses from the ids of the viewer's purchases.
export const OwnedCourseIdsDoc = graphql(`
  query OwnedCourseIds {
    purchasedCourses(first: 100) {
      edges {
        node {
          id
        }
      }
    }
  }
`);

export const PurchasedCoursesDoc = graphql(`
  query PurchasedCourses($first: Int!, $after: String) {
    purchasedCourses(first: $first, after: $after) {
      totalCount
      edges {
        cursor
        node {
          ...CourseFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

export const PurchaseCourseDoc = graphql(`
  mutation PurchaseCourse($courseId: ID!) {
    purchaseCourse(courseId: $courseId) {
      id
      pricePaid
      purchasedAt
      course {
        ...CourseFields
      }
    }
  }
`);

export const CreateCourseDoc = graphql(`
  mutation CreateCourse($input: CreateCourseInput!) {
    createCourse(input: $input) {
      ...CourseFields
    }
  }
`);

export const PublishCourseDoc = graphql(`
  mutation PublishCourse($id: ID!) {
    updateCourse(id: $id, input: { published: true }) {
      ...CourseFields
    }
  }
`);

export const CoursePublishedDoc = graphql(`
  subscription CoursePublished {
    coursePublished {
      id
      title
      price
    }
  }
`);

export const PurchaseMadeDoc = graphql(`
  subscription PurchaseMade {
    purchaseMade {
      id
      pricePaid
      purchasedAt
      course {
        id
        title
      }
    }
  }
`);

// --- Lessons (issue 12) --------------------------------------------------------
//
// The lesson list asks for no gated field (body, videoUrl): a locked lesson
// would come back as null with a FORBIDDEN error. An open lesson's body is
// fetched on its own with LessonDoc.

export const LessonListFields = graphql(`
  fragment LessonListFields on Lesson {
    id
    title
    position
    durationMinutes
    preview
    completed
  }
`);

export const CourseLessonsDoc = graphql(`
  query CourseLessons($id: ID!) {
    course(id: $id) {
      ...CourseFields
      createdBy {
        id
        name
      }
      viewerHasPurchased
      progress {
        completedLessons
        totalLessons
      }
      lessons {
        ...LessonListFields
      }
    }
  }
`);

export const LessonDoc = graphql(`
  query Lesson($id: ID!) {
    lesson(id: $id) {
      ...LessonListFields
      body
      videoUrl
    }
  }
`);

export const CompleteLessonDoc = graphql(`
  mutation CompleteLesson($id: ID!) {
    completeLesson(id: $id) {
      ...LessonListFields
    }
  }
`);

// --- The instructor page ---------------------------------------------------------

export const MyTeachingDoc = graphql(`
  query MyTeaching($first: Int!, $after: String) {
    myCourses(first: $first, after: $after) {
      totalCount
      edges {
        cursor
        node {
          ...CourseFields
          lessons {
            ...LessonListFields
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

// course(id) shows drafts to admins only, so the editor takes an
// instructor's own courses (drafts too) from myCourses, and course(id) for
// the rest (an admin editing someone else's course).
export const CourseEditorDoc = graphql(`
  query CourseEditor($id: ID!) {
    course(id: $id) {
      ...CourseFields
      lessons {
        ...LessonListFields
      }
    }
  }
`);

export const CourseSalesDoc = graphql(`
  query CourseSales($courseId: ID!) {
    courseSales(courseId: $courseId) {
      purchases
      revenue
    }
  }
`);

export const AddLessonDoc = graphql(`
  mutation AddLesson($courseId: ID!, $input: LessonInput!) {
    addLesson(courseId: $courseId, input: $input) {
      ...LessonListFields
    }
  }
`);

export const MoveLessonDoc = graphql(`
  mutation MoveLesson($id: ID!, $position: Int!) {
    moveLesson(id: $id, position: $position) {
      ...LessonListFields
    }
  }
`);

export const RemoveLessonDoc = graphql(`
  mutation RemoveLesson($id: ID!) {
    removeLesson(id: $id)
  }
`);
