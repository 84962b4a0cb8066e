//! A strict little reader of the pages' HTML: every element closed in order, attribute
//! values quoted, no bare `<`, `>` or `&` in text. Enough to check what a page says, in
//! which order, and that what came from the API was escaped.

#[derive(Debug, Default)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Child>,
}

#[derive(Debug)]
pub enum Child {
    Node(Node),
    Text(String),
}

/// Elements that have no end tag.
const VOID: [&str; 4] = ["meta", "br", "hr", "img"];

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..]
            .find(';')
            .unwrap_or_else(|| panic!("bare & in {text:?}"));
        let entity = &rest[i + 1..i + end];
        out.push(match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "#39" => '\'',
            other => panic!("unknown entity &{other}; in {text:?}"),
        });
        rest = &rest[i + end + 1..];
    }
    assert!(!rest.contains('>'), "bare > in text {text:?}");
    out.push_str(rest);
    out
}

fn parse_attrs(tag: &str) -> (String, Vec<(String, String)>) {
    let (name, mut rest) = tag.split_once(' ').unwrap_or((tag, ""));
    let mut attrs = Vec::new();
    while let Some((key, after)) = rest.trim_start().split_once("=\"") {
        let end = after
            .find('"')
            .unwrap_or_else(|| panic!("unclosed value in <{tag}>"));
        attrs.push((key.trim().to_string(), unescape(&after[..end])));
        rest = &after[end + 1..];
    }
    let leftover = rest.trim();
    assert!(
        leftover
            .split_whitespace()
            .all(|w| w.bytes().all(|b| b.is_ascii_alphabetic())),
        "unquoted attribute in <{tag}>"
    );
    (name.to_string(), attrs)
}

impl Node {
    /// Parses a whole page; panics, naming the problem, on anything not well formed.
    pub fn parse(page: &str) -> Node {
        let mut stack = vec![Node::default()];
        let mut rest = page;
        while let Some(i) = rest.find('<') {
            let text = &rest[..i];
            if !text.is_empty() {
                let top = stack.last_mut().unwrap();
                top.children.push(Child::Text(unescape(text)));
            }
            let end = rest[i..]
                .find('>')
                .unwrap_or_else(|| panic!("unclosed tag"));
            let tag = &rest[i + 1..i + end];
            rest = &rest[i + end + 1..];
            if tag.starts_with('!') {
                continue;
            }
            if let Some(name) = tag.strip_prefix('/') {
                let node = stack.pop().unwrap();
                assert_eq!(node.name, name, "</{name}> closes <{}>", node.name);
                stack.last_mut().unwrap().children.push(Child::Node(node));
                continue;
            }
            let closed = tag.ends_with('/');
            let (name, attrs) = parse_attrs(tag.trim_end_matches('/').trim_end());
            let node = Node {
                name,
                attrs,
                children: Vec::new(),
            };
            if closed || VOID.contains(&node.name.as_str()) {
                stack.last_mut().unwrap().children.push(Child::Node(node));
            } else {
                stack.push(node);
            }
        }
        assert!(
            rest.trim().is_empty() || !rest.contains('>'),
            "text after the page"
        );
        assert_eq!(stack.len(), 1, "unclosed <{}>", stack.last().unwrap().name);
        stack.pop().unwrap()
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every element below this one, in document order.
    pub fn all(&self) -> Vec<&Node> {
        let mut out = Vec::new();
        for c in &self.children {
            if let Child::Node(n) = c {
                out.push(n);
                out.extend(n.all());
            }
        }
        out
    }

    pub fn by_id(&self, id: &str) -> Option<&Node> {
        self.all().into_iter().find(|n| n.attr("id") == Some(id))
    }

    pub fn named(&self, name: &str) -> Vec<&Node> {
        self.all().into_iter().filter(|n| n.name == name).collect()
    }

    /// The text of this element and all below it, unescaped.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.children {
            match c {
                Child::Text(t) => out.push_str(t),
                Child::Node(n) => out.push_str(&n.text()),
            }
        }
        out
    }
}
