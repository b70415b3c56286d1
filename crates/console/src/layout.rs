//! The frame every page shares: head, navigation, the language switch and the sign-out form.

use maud::{html, Markup, DOCTYPE};
use threatintel_model::Lang;

use crate::text::tr;

/// What every page knows about the request that asked for it.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    pub lang: Lang,
    /// The session's CSRF token, put into every form that posts.
    pub csrf: &'a str,
    /// The access key id signed in; `None` for an anonymous (read-only) visitor.
    pub user: Option<&'a str>,
    /// Whether the server answers anonymous visitors (then the sign-in link is optional).
    pub anonymous: bool,
    /// This page's path and query, where the language switch returns to.
    pub here: &'a str,
}

impl Page<'_> {
    /// The hidden CSRF field of a form that posts.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }

    /// Whether the visitor may change the store (import, refresh).
    pub fn may_write(&self) -> bool {
        self.user.is_some()
    }
}

/// A percent-encoded query value (names, paths).
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'*' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A whole page: `title` in the head and as the heading, `body` below it.
pub fn layout(page: &Page, title: &str, body: Markup) -> Markup {
    frame(page, title, false, body)
}

/// [`layout`] for a page showing work in progress: without JavaScript it reloads itself every
/// second (with it, `console.js` updates the page in place).
pub fn layout_refreshing(page: &Page, title: &str, body: Markup) -> Markup {
    frame(page, title, true, body)
}

fn frame(page: &Page, title: &str, refreshing: bool, body: Markup) -> Markup {
    let lang = page.lang;
    let (other, other_name) = match lang {
        Lang::Zh => ("en", "English"),
        Lang::En => ("zh", "中文"),
    };
    html! {
        (DOCTYPE)
        html lang=(match lang { Lang::Zh => "zh", Lang::En => "en" }) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · threatintel" }
                link rel="stylesheet" href="/console/assets/console.css";
                script src="/console/assets/console.js" defer {}
                @if refreshing { noscript { meta http-equiv="refresh" content="1"; } }
            }
            body {
                header.top {
                    a.brand href="/console/" { "threatintel" }
                    nav {
                        a href="/console/" { (tr(lang, "概览", "Dashboard")) }
                        a href="/console/search" { (tr(lang, "查询", "Search")) }
                        a href="/console/sources" { (tr(lang, "情报源", "Sources")) }
                        @if page.may_write() {
                            a href="/console/import" { (tr(lang, "导入", "Import")) }
                        }
                    }
                    div.account {
                        a.lang href={ "/console/lang/" (other) "?back=" (encode(page.here)) } { (other_name) }
                        @match page.user {
                            Some(user) => {
                                span.user { (user) }
                                form.inline method="post" action="/console/logout" {
                                    (page.csrf_field())
                                    button type="submit" { (tr(lang, "退出", "Sign out")) }
                                }
                            }
                            None => {
                                a href="/console/login" { (tr(lang, "登录", "Sign in")) }
                            }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}
