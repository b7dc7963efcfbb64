//! The GraphiQL page browsers get at `GET /graphql`: one self-contained HTML document
//! with GraphiQL and React inlined (see `assets/graphiql/README.md`), so it works on
//! machines that cannot reach a CDN, and the server keeps exactly its routes.

const CSS: &str = include_str!("../assets/graphiql/graphiql.min.css");
const REACT: &str = include_str!("../assets/graphiql/react.production.min.js");
const REACT_DOM: &str = include_str!("../assets/graphiql/react-dom.production.min.js");
const GRAPHIQL: &str = include_str!("../assets/graphiql/graphiql.min.js");

/// The page, built once at start-up.
pub fn page() -> String {
    // A token may come in the fragment (`/graphql#token=tz_…`, as `serve --demo`
    // prints it): fragments never reach the server or its logs, and the page drops it
    // from the address bar once read. Otherwise paste it into the headers editor.
    let start = r#"
const url = new URL('/graphql', window.location.href).href;
const token = new URLSearchParams(window.location.hash.slice(1)).get('token');
if (token) history.replaceState(null, '', window.location.pathname + window.location.search);
const authorization = token ? { Authorization: 'Bearer ' + token } : {};
const fetcher = GraphiQL.createFetcher({
  url, subscriptionUrl: url.replace(/^http/, 'ws') + '/ws', wsConnectionParams: authorization,
});
const defaultHeaders = JSON.stringify(token ? authorization : { Authorization: 'Bearer <your token>' }, null, 2);
const defaultQuery = '# taizhang (台账): the log head and the units it knows.\n{\n  head { position projected }\n  units(first: 10) { totalCount edges { node { id name region industry } } }\n}\n';
ReactDOM.createRoot(document.getElementById('graphiql'))
  .render(React.createElement(GraphiQL, { fetcher, defaultQuery, defaultHeaders, defaultEditorToolsVisibility: true }));
"#;
    format!(
        "<!doctype html>\n<html lang=\"zh\">\n<head>\n<meta charset=\"utf-8\">\n<title>taizhang · GraphiQL</title>\n\
         <style>body {{ margin: 0; }} #graphiql {{ height: 100vh; }}</style>\n<style>{CSS}</style>\n</head>\n<body>\n\
         <div id=\"graphiql\">Loading GraphiQL…</div>\n<script>{REACT}</script>\n<script>{REACT_DOM}</script>\n\
         <script>{GRAPHIQL}</script>\n<script>{start}</script>\n</body>\n</html>\n"
    )
}
