// Boots GraphiQL from assets served by the API itself (no CDN), so the IDE
// works offline and under a Content-Security-Policy without inline code.
(function () {
  var defaultQuery = [
    "# Welcome to the coursehub API.",
    "#",
    "# Public queries work as they are. For the signed-in ones, run the Login",
    "# mutation, copy its accessToken, and put it in the Headers tab below:",
    "#",
    '#   { "Authorization": "Bearer <accessToken>" }',
    "#",
    "# Then run Me or MyCourses.",
    "",
    "query Courses {",
    "  courses(first: 5) {",
    "    totalCount",
    "    edges { node { id title price createdBy { name } } }",
    "    pageInfo { hasNextPage endCursor }",
    "  }",
    "}",
    "",
    "mutation Login {",
    '  login(input: { email: "you@example.com", password: "your-password" }) {',
    "    accessToken",
    "    expiresAt",
    "  }",
    "}",
    "",
    "query Me {",
    "  me { id name email role }",
    "}",
    "",
    "query MyCourses {",
    "  purchasedCourses { totalCount edges { node { title } } }",
    "}",
    "",
    "# Subscriptions run over a WebSocket to this server; the Headers tab's",
    "# Authorization goes with them. Run this, then publish a course.",
    "subscription Live {",
    "  coursePublished { id title price }",
    "}",
    "",
  ].join("\n");

  // Subscriptions go over graphql-transport-ws (the graphql-ws client that
  // GraphiQL bundles) to this same origin; queries and mutations over POST.
  var socketScheme = location.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({
    url: "/graphql",
    subscriptionUrl: socketScheme + "//" + location.host + "/graphql",
  });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultHeaders: "{}",
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false,
    })
  );
})();
