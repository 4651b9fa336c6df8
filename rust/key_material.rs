//! The Anthropic Messages key-material rules of DESIGN §1, as pure functions over names and bytes.
//! `py_keys` applies them inline while it walks a request, so no normalized copy is ever built.

use crate::errors::Error;

/// Top-level members that never change the answer (rule 3). `extra_body` is merged before this
/// list applies and `extra_headers` contributes only betas and the version (rule 2).
pub const DROPPED_TOP: [&[u8]; 9] = [
    b"stream",
    b"metadata",
    b"timeout",
    b"extra_headers",
    b"extra_query",
    b"service_tier",
    b"diagnostics",
    b"cache_control",
    b"extra_body",
];

/// `DROPPED_TOP.contains(key)`, as one match (the compiler dispatches on length first).
#[inline]
pub fn is_dropped_top(key: &[u8]) -> bool {
    matches!(
        key,
        b"stream"
            | b"metadata"
            | b"timeout"
            | b"extra_headers"
            | b"extra_query"
            | b"service_tier"
            | b"diagnostics"
            | b"cache_control"
            | b"extra_body"
    )
}

/// Where a value sits in a request: the structural positions of rule 4 drop `cache_control` and
/// `null` members; `Content` and `System` also accept the one-string spelling of rule 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    /// User data (tool inputs, schemas, documents, unknown fields): kept byte for byte.
    Data,
    /// The `messages` array.
    Messages,
    /// One message object.
    Message,
    /// A message's `content`, or a `tool_result`'s `content`: a string or a list of blocks.
    Content,
    /// The `system` parameter: a string or a list of blocks.
    System,
    /// One content block (of a message, of `system`, or inside a `tool_result`).
    Block,
    /// The `tools` array.
    Tools,
    /// One tool definition.
    Tool,
}

impl Position {
    /// The position of a top-level member of the request.
    pub fn top(key: &[u8]) -> Position {
        match key {
            b"messages" => Position::Messages,
            b"system" => Position::System,
            b"tools" => Position::Tools,
            _ => Position::Data,
        }
    }

    /// Whether an object here drops `cache_control` and `null` members.
    #[inline]
    pub fn is_structural_object(self) -> bool {
        matches!(self, Position::Message | Position::Block | Position::Tool)
    }

    /// Whether a string here means `[{"type": "text", "text": s}]`.
    #[inline]
    pub fn text_shorthand(self) -> bool {
        matches!(self, Position::Content | Position::System)
    }

    /// The position of the items of an array found here.
    #[inline]
    #[must_use]
    pub fn element(self) -> Position {
        match self {
            Position::Messages => Position::Message,
            Position::Content | Position::System => Position::Block,
            Position::Tools => Position::Tool,
            _ => Position::Data,
        }
    }

    /// The position of member `key` of an object found here; `block_type` is the object's `type`.
    #[inline]
    #[must_use]
    pub fn member(self, key: &[u8], block_type: Option<&[u8]>) -> Position {
        match (self, key) {
            (Position::Message, b"content") => Position::Content,
            (Position::Block, b"content") if block_type == Some(b"tool_result") => Position::Content,
            _ => Position::Data,
        }
    }
}

/// Server tools answer from the world at call time (web search/fetch, code execution); their type
/// names carry a version date (`web_search_20250305`), so the family prefix is what is matched.
pub fn is_server_tool_type(tool_type: &[u8]) -> bool {
    [&b"web_search"[..], b"web_fetch", b"code_execution"]
        .iter()
        .any(|family| tool_type.starts_with(family))
}

/// Adds the comma-separated betas of one header value or `betas` entry to `out`.
pub fn add_betas(out: &mut Vec<String>, value: &str) {
    out.extend(
        value
            .split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(str::to_owned),
    );
}

/// Sorted and de-duplicated, so the same set of betas always gives the same key.
pub fn finish_betas(mut betas: Vec<String>) -> Vec<String> {
    betas.sort_unstable();
    betas.dedup();
    betas
}

/// A namespace becomes the key's prefix; braces would make part of it a Redis Cluster hash tag.
pub fn check_namespace(namespace: &str) -> Result<(), Error> {
    if namespace.is_empty() {
        return Err(Error::invalid_option("namespace must not be empty", "namespace"));
    }
    if namespace.contains(['{', '}']) {
        return Err(Error::invalid_option(
            format!("namespace {namespace:?} contains '{{' or '}}' (a redis cluster hash tag)"),
            "namespace",
        ));
    }
    Ok(())
}

/// `{namespace}:v1:{hex digest}`.
pub fn format_key(namespace: &str, digest: &[u8; 32]) -> String {
    let mut key = String::with_capacity(namespace.len() + 4 + 64);
    key.push_str(namespace);
    key.push_str(":v1:");
    crate::canonical::push_hex(&mut key, digest);
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_follow_the_request_shape() {
        let messages = Position::top(b"messages");
        assert_eq!(messages.element(), Position::Message);
        assert_eq!(Position::Message.member(b"content", None), Position::Content);
        assert_eq!(Position::Message.member(b"role", None), Position::Data);
        assert_eq!(Position::Content.element(), Position::Block);
        assert_eq!(
            Position::Block.member(b"content", Some(b"tool_result")),
            Position::Content
        );
        // Only tool_result content is structural; a tool_use input or a document source is data.
        assert_eq!(Position::Block.member(b"content", Some(b"document")), Position::Data);
        assert_eq!(Position::Block.member(b"input", Some(b"tool_use")), Position::Data);
        assert_eq!(Position::top(b"tools").element(), Position::Tool);
        assert_eq!(Position::Tool.member(b"input_schema", None), Position::Data);
        assert!(Position::top(b"system").text_shorthand());
        assert!(!Position::Data.is_structural_object() && Position::Tool.is_structural_object());
        assert_eq!(Position::Data.element(), Position::Data);
    }

    #[test]
    fn dropped_members_match_the_list() {
        for key in DROPPED_TOP {
            assert!(is_dropped_top(key));
        }
        assert!(!is_dropped_top(b"model") && !is_dropped_top(b"streams"));
    }

    #[test]
    fn betas_merge_sorted_and_unique() {
        let mut betas = Vec::new();
        add_betas(&mut betas, "b-2, a-1,,");
        add_betas(&mut betas, "a-1");
        assert_eq!(finish_betas(betas), ["a-1", "b-2"]);
    }

    #[test]
    fn server_tools_by_family() {
        assert!(is_server_tool_type(b"web_search_20250305"));
        assert!(is_server_tool_type(b"web_fetch_20250910"));
        assert!(is_server_tool_type(b"code_execution_20250825"));
        assert!(!is_server_tool_type(b"bash_20250124"));
        assert!(!is_server_tool_type(b"custom"));
    }

    #[test]
    fn namespaces() {
        assert!(check_namespace("llmcache").is_ok());
        assert!(matches!(check_namespace("a{b}"), Err(Error::InvalidOption { .. })));
        assert!(check_namespace("").is_err());
        let mut digest = [0u8; 32];
        digest[0] = 0xab;
        digest[31] = 0x01;
        assert_eq!(format_key("ns", &digest), format!("ns:v1:ab{}01", "0".repeat(60)));
    }
}
