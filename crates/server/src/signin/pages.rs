//! Server-rendered pages (askama templates in `crates/server/templates`).

use askama::Template;

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

/// The HTML of an error page.
pub fn error_page(title: &str, message: &str) -> Result<String, askama::Error> {
    ErrorPage { title, message }.render()
}
