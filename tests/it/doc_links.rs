//! Every relative link in README.md and docs/*.md names a file that exists, and an
//! `#anchor` names a heading of that file: the README sends readers to docs/ for most of
//! the detail, so a moved or renamed page must not leave a dead link behind.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces made `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The lines of a Markdown text outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push(line);
        }
    }
    out
}

fn anchors(text: &str) -> BTreeSet<String> {
    prose(text)
        .into_iter()
        .filter(|l| l.starts_with('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect()
}

/// Targets of the inline links `[text](target)` of a Markdown text, code spans included
/// (a link is never written inside one here).
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in prose(text) {
        for (at, _) in line.match_indices("](") {
            let rest = &line[at + 2..];
            if let Some(end) = rest.find(')') {
                out.push(rest[..end].to_string());
            }
        }
    }
    out
}

/// The dead links of one Markdown file, each as `file: target (why)`.
fn dead_links(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let dir = file.parent().unwrap();
    let mut dead = Vec::new();
    for target in links(&text) {
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
        let linked = if path.is_empty() {
            file.to_path_buf()
        } else {
            dir.join(path)
        };
        if !linked.exists() {
            dead.push(format!("{}: {target} (no such file)", file.display()));
            continue;
        }
        let is_md = linked.extension().is_some_and(|e| e == "md");
        if !anchor.is_empty() && is_md {
            let linked_text = std::fs::read_to_string(&linked).unwrap();
            if !anchors(&linked_text).contains(anchor) {
                dead.push(format!("{}: {target} (no such heading)", file.display()));
            }
        }
    }
    dead
}

fn markdown_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md"), root.join("deploy/README.md")];
    let mut docs: Vec<_> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

#[test]
fn every_relative_link_of_the_docs_resolves() {
    let files = markdown_files();
    let checked: usize = files
        .iter()
        .map(|f| links(&std::fs::read_to_string(f).unwrap()).len())
        .sum();
    assert!(
        checked > 50,
        "only {checked} links found: is the scanner broken?"
    );
    let dead: Vec<String> = files.iter().flat_map(|f| dead_links(f)).collect();
    assert!(dead.is_empty(), "dead links:\n{}", dead.join("\n"));
}

/// Every page under docs/ is reachable from the index.
#[test]
fn the_docs_index_lists_every_page() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let index = links(&std::fs::read_to_string(root.join("README.md")).unwrap());
    for page in markdown_files().iter().filter(|p| p.starts_with(&root)) {
        let name = page.file_name().unwrap().to_str().unwrap();
        assert!(
            name == "README.md" || index.iter().any(|l| l == name),
            "docs/README.md does not list {name}"
        );
    }
}

#[test]
fn the_checker_finds_a_missing_file_and_a_missing_heading() {
    let dir = crate::support::web::temp_dir("doc-links");
    let page = dir.join("a.md");
    std::fs::write(
        &page,
        "# Title\n\n## The two commands\n\n[ok](#the-two-commands) [ok](a.md#title) \
         [web](https://example.com/x#y)\n[bad](b.md) [bad](#nope)\n```sh\n# not a heading\n```\n\
         [in code is skipped](#not-a-heading)\n",
    )
    .unwrap();
    let dead = dead_links(&page);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(dead.len(), 3, "{dead:?}");
    assert!(dead[0].ends_with("b.md (no such file)"), "{dead:?}");
    assert!(dead[1].ends_with("#nope (no such heading)"), "{dead:?}");
    assert!(
        dead[2].ends_with("#not-a-heading (no such heading)"),
        "{dead:?}"
    );
    assert_eq!(slug(" TLS and basic auth"), "tls-and-basic-auth");
    assert_eq!(
        slug("Tencent Managed Service for Prometheus (TMP)"),
        "tencent-managed-service-for-prometheus-tmp"
    );
}
