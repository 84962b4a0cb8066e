//! Label sets rendered into text once, when a job is tracked, relabelled or polled.

use std::fmt::Write as _;

use super::{JobData, JobKey, Source};
use crate::config::Labels;
use crate::render::exposition::{push_account, push_label};
use crate::rollback::Job;

fn push_labels(out: &mut String, labels: &Labels) {
    for (k, v) in labels.0.iter() {
        push_label(out, k, v);
    }
}

pub(super) fn job_labels(key: &JobKey, source: &Source, labels: &Labels) -> String {
    let mut out = String::new();
    let _ = write!(out, "job_id=\"{}\"", key.id);
    push_account(&mut out, &key.account);
    push_label(&mut out, "region", &key.region);
    if let Some(instance_id) = source.instance_id() {
        push_label(&mut out, "instance_id", instance_id);
    }
    push_labels(&mut out, labels);
    out
}

/// The store keeps what it is given for a poll interval or more, 10,000 times over: the
/// spare capacity of growing vectors and strings is given back (a `Vec` of one task kept
/// room for four, 8 MB at 10,000 jobs).
pub(super) fn job_data(key: &JobKey, mut job: Job, labels: &Labels) -> JobData {
    job.tasks.shrink_to_fit();
    let mut task_labels = Vec::with_capacity(job.tasks.len());
    let mut task_info_labels = Vec::with_capacity(job.tasks.len());
    for t in &job.tasks {
        let mut l = String::new();
        let _ = write!(l, "job_id=\"{}\"", job.id);
        push_account(&mut l, &key.account);
        push_label(&mut l, "region", &key.region);
        if !t.id.is_empty() {
            push_label(&mut l, "task_id", &t.id);
        }
        push_label(&mut l, "instance_id", &t.instance.instance_id);
        push_labels(&mut l, labels);
        l.shrink_to_fit();
        task_labels.push(l);
        let mut info = String::new();
        push_label(&mut info, "work_id", &t.work_id);
        push_label(&mut info, "instance_name", &t.instance.instance_name);
        push_label(&mut info, "strategy", &t.instance.strategy);
        push_label(&mut info, "operator", &t.instance.operator);
        info.shrink_to_fit();
        task_info_labels.push(info);
    }
    JobData {
        job,
        task_labels,
        task_info_labels,
    }
}
