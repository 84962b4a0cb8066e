//! The HTML pages of the demo, read as a person would: what needs attention comes first,
//! a failed batch job's page shows both its tasks and both their messages, and markup in
//! the API's words stays text.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::html::Node;
use crate::support::process::{self, BIN};
use crate::support::{http_client, scrape};

/// The markup the demo puts in the failed task's message.
const FAILURE: &str = "回档失败: binlog 不连续 <mysql-bin.000042> & <mysql-bin.000044>";

async fn get(base: &str, path: &str) -> (u16, String) {
    let resp = http_client()
        .get(format!("{base}{path}"))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// The job ids a section's table links to, in order.
fn linked_jobs(page: &Node, section: &str) -> Vec<String> {
    let s = page
        .by_id(section)
        .unwrap_or_else(|| panic!("no section {section}"));
    s.named("tr")
        .iter()
        .filter_map(|tr| tr.named("a").first().map(|a| a.text()))
        .collect()
}

/// Waits for the batch job's failure and both its tasks, the failed one told.
async fn wait_for_the_failed_batch(base: &str) {
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no failed batch job with both tasks"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        let Some(m) = scrape(base).await else {
            continue;
        };
        let batch = [("job_id", "30004")];
        let failed = m.states("cdb_rollback_job_state", &batch) == ["failed"];
        let on = [("job_id", "30004"), ("instance_id", "cdb-demo0003")];
        let task_failed = m.states("cdb_rollback_task_state", &on) == ["failed"];
        if failed && task_failed && m.find("cdb_rollback_task_state", &batch).len() == 2 * 9 {
            return;
        }
    }
}

#[tokio::test]
async fn demo_pages_put_what_needs_attention_first() {
    let demo = process::spawn({
        let mut cmd = Command::new(BIN);
        cmd.arg("--demo").stdout(Stdio::null());
        cmd
    });
    let base = format!("http://127.0.0.1:{}", demo.port);
    wait_for_the_failed_batch(&base).await;
    let (status, landing) = get(&base, "/").await;
    assert_eq!(status, 200);
    let page = Node::parse(&landing);
    let sections: Vec<_> = page
        .named("section")
        .iter()
        .filter_map(|s| s.attr("id"))
        .collect();
    assert_eq!(
        sections[..3],
        ["summary", "attention", "finished"],
        "{sections:?}"
    );
    // The failed batch job, then the one standing at 42 %, then the one moving.
    assert_eq!(linked_jobs(&page, "attention"), ["30004", "30005", "30003"]);
    let summary = page.by_id("summary").unwrap().text();
    assert!(
        summary.contains("1failed") && summary.contains("success"),
        "{summary}"
    );
    let attention = page.by_id("attention").unwrap();
    let first = attention.named("tr")[1];
    assert_eq!(first.attr("class"), Some("failed"));
    assert!(first.text().contains(FAILURE), "{}", first.text());
    assert!(
        !landing.contains("<mysql-bin"),
        "markup from the API was escaped"
    );
    // Finished jobs, newest first: their end times never go up.
    let ends: Vec<String> = page.by_id("finished").unwrap().named("tr")[1..]
        .iter()
        .map(|tr| tr.named("td")[3].text())
        .collect();
    assert!(
        ends.len() > 10 && ends.windows(2).all(|w| w[0] >= w[1]),
        "{ends:?}"
    );

    let href = first.named("a")[0].attr("href").unwrap();
    assert_eq!(href, "/jobs/ap-guangzhou/30004");
    failed_job_page(&base, href).await;
    let (status, _) = get(&base, "/jobs/ap-guangzhou/1").await;
    assert_eq!(status, 404);
}

/// Both tasks of the failed batch job, both their messages, and its progress chart.
async fn failed_job_page(base: &str, href: &str) {
    let (status, job) = get(base, href).await;
    assert_eq!(status, 200, "{job}");
    let job = Node::parse(&job);
    let tasks: Vec<Vec<String>> = job.named("table")[1].named("tr")[1..]
        .iter()
        .map(|tr| tr.named("td").iter().map(|td| td.text()).collect())
        .collect();
    let task_of = |i: usize| {
        (
            tasks[i][1].as_str(),
            tasks[i][2].as_str(),
            tasks[i][8].as_str(),
        )
    };
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    assert_eq!(task_of(0), ("cdb-demo0002", "success", "回档成功"));
    assert_eq!(task_of(1), ("cdb-demo0003", "failed", FAILURE));
    let messages: Vec<String> = job.named("li").iter().map(|li| li.text()).collect();
    assert_eq!(messages, ["部分实例回档失败", "回档成功", FAILURE]);
    assert_eq!(job.named("svg").len(), 1, "the progress chart");
    assert!(job.named("script").is_empty());
}

/// Markup in every string the API gives (messages, names, ids) and in labels stays text
/// on both pages, and the region is a path segment of the job's link.
#[tokio::test]
async fn every_string_from_the_api_is_escaped() {
    use std::sync::Arc;

    use cdb_rollback_exporter::config::Labels;
    use cdb_rollback_exporter::store::{JobKey, Source, Store};

    use crate::support::web::{job, serve};

    const EVIL: &str = "<script>alert('x')</script> & \"q\"";
    let store = Arc::new(Store::new());
    let key = JobKey::new("ap-guangzhou", 7);
    let labels = Labels::from_pairs(&[("team", EVIL)]);
    store.track(key.clone(), Source::Configured, labels);
    let mut j = job(7);
    j.message = EVIL.into();
    j.async_request_id = EVIL.into();
    j.tasks[0].message = EVIL.into();
    j.tasks[0].instance.instance_name = EVIL.into();
    j.tasks[0].instance.strategy = EVIL.into();
    store.record_success(&key, j, 1.8e9);
    let server = serve(store, None).await;
    let base = format!("http://{}", server.addr);
    for path in ["/", "/jobs/ap-guangzhou/7"] {
        let (status, text) = get(&base, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!text.contains("<script"), "{path}: {text}");
        let page = Node::parse(&text);
        assert!(page.named("script").is_empty());
        assert!(
            page.text().contains(EVIL),
            "{path}: the text reads as the API wrote it"
        );
    }
}
